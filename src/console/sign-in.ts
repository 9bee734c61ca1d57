// The sign-in screen, shown when GET /api/session answers 401.
import type { Api } from './api.js';
import { errorText } from './api.js';
import { field, h, replace } from './dom.js';
import { logo } from './logo.js';

export function showSignIn(app: HTMLElement, api: Api, onSignedIn: () => void, notice?: string): void {
  const username = h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true, autofocus: true, 'data-testid': 'username' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'password' });
  const error = h('div', { class: 'alert alert-error', role: 'alert', hidden: !notice, 'data-testid': 'sign-in-error' }, notice ?? '');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', 'data-testid': 'sign-in' }, 'Sign in');
  const form = h(
    'form',
    { class: 'sign-in-card' },
    h('div', { class: 'sign-in-brand' }, logo(40), h('div', null, h('h1', null, 'Switchboard'), h('p', { class: 'muted' }, 'Sign in to the console'))),
    error,
    field('User name', username),
    field('Password', password),
    submit,
    h('p', { class: 'muted small' }, 'The administrator is set by admin.username and admin.password in the server’s configuration.'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    submit.disabled = true;
    error.hidden = true;
    try {
      await api.signIn(username.value, password.value);
      onSignedIn();
    } catch (err) {
      const message = errorText(err).replace(/^UnauthorizedException: /, '');
      error.textContent = message.charAt(0).toUpperCase() + message.slice(1);
      error.hidden = false;
      password.select();
    } finally {
      submit.disabled = false;
    }
  });
  replace(app, h('div', { class: 'sign-in' }, form));
  username.focus();
}
