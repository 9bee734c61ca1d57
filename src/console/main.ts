// The console's entry point: ask who is signed in (GET /api/session), then show the sign-in
// screen or the console. Builds the parts every page is given (api, MQTT test session, toasts)
// and the hash router.
import './styles.css';
import { Api, ApiError, errorText } from './api.js';
import type { Context, PageDefinition } from './context.js';
import { h, replace } from './dom.js';
import { Toasts } from './components/toast.js';
import { TestSession } from './mqtt/test-session.js';
import { authorizersPage } from './pages/authorizers.js';
import { clientPage } from './pages/client.js';
import { connectionsPage } from './pages/connections.js';
import { monitorPage } from './pages/monitor.js';
import { retainedPage } from './pages/retained.js';
import { rulesPage } from './pages/rules.js';
import { Router } from './router.js';
import { mountShell, type Shell } from './shell.js';
import { showSignIn } from './sign-in.js';

const PAGES: readonly PageDefinition[] = [clientPage, monitorPage, connectionsPage, authorizersPage, retainedPage, rulesPage];

const app = document.getElementById('app')!;
const api = new Api();
const toasts = new Toasts();

let running: { router: Router; shell: Shell; session: TestSession } | null = null;

function stopConsole(): void {
  if (!running) return;
  running.router.stop();
  running.shell.destroy();
  running.session.disconnect();
  running = null;
}

function signIn(notice?: string): void {
  stopConsole();
  showSignIn(app, api, () => void start(), notice);
}

async function signOut(): Promise<void> {
  try {
    await api.signOut();
  } catch (err) {
    toasts.show(errorText(err), 'error');
  }
  signIn();
}

async function start(): Promise<void> {
  let user: string;
  try {
    user = (await api.session()).user;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      signIn();
      return;
    }
    const retry = h('button', { type: 'button', class: 'btn btn-primary' }, 'Try again');
    retry.addEventListener('click', () => void start());
    replace(app, h('div', { class: 'sign-in' }, h('div', { class: 'sign-in-card' }, h('h1', null, 'Cannot reach the server'), h('p', { class: 'muted' }, errorText(err)), retry)));
    return;
  }
  const overview = await api.overview().catch(() => null);
  const session = new TestSession(() => api.mqttCredential());
  const ctx: Context = { api, user, overview, session, toasts };
  const shell = mountShell(app, ctx, PAGES, () => void signOut());
  const router = new Router(PAGES, shell.content, ctx, (page) => shell.setActive(page));
  running = { router, shell, session };
  // A 401 from any page: the session expired or was ended elsewhere.
  api.onUnauthorized = () => {
    api.onUnauthorized = () => undefined;
    signIn('Your session has ended. Sign in again.');
  };
  router.start();
}

void start();
