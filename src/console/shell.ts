// The frame around every page: a sidebar (a drawer on narrow screens) with the pages and the
// server's facts, a top bar with the test client's connection state, the user and sign-out.
import type { Context, PageDefinition } from './context.js';
import { h, icon, replace } from './dom.js';
import { ICONS } from './icons.js';
import { logo } from './logo.js';

export interface Shell {
  content: HTMLElement;
  setActive(page: PageDefinition): void;
  destroy(): void;
}

const GROUPS: readonly { label: string; paths: readonly string[] }[] = [
  { label: 'Test', paths: ['client'] },
  { label: 'Monitor', paths: ['monitor', 'connections'] },
  { label: 'Security', paths: ['authorizers'] },
  { label: 'Data', paths: ['retained', 'rules'] },
];

export function mountShell(app: HTMLElement, ctx: Context, pages: readonly PageDefinition[], signOut: () => void): Shell {
  const links = new Map<string, HTMLAnchorElement>();
  const nav = h(
    'nav',
    { class: 'nav', 'aria-label': 'Console' },
    GROUPS.map((g) =>
      h(
        'div',
        { class: 'nav-group' },
        h('div', { class: 'nav-label' }, g.label),
        g.paths.map((p) => {
          const page = pages.find((x) => x.path === p);
          if (!page) return null;
          const a = h('a', { href: `#/${page.path}`, class: 'nav-link', 'data-page': page.path }, icon(page.icon), h('span', null, page.title));
          links.set(page.path, a);
          return a;
        }),
      ),
    ),
  );

  const o = ctx.overview;
  const listeners = o
    ? [o.listeners.mqtt ? `MQTT :${o.listeners.mqtt.port}${o.listeners.mqtt.tls ? ' (TLS)' : ''}` : null, o.listeners.http ? `HTTP :${o.listeners.http.port}${o.listeners.http.tls ? ' (TLS)' : ''}` : null].filter(Boolean).join(' · ')
    : '';
  const sidebar = h(
    'aside',
    { class: 'sidebar', id: 'sidebar' },
    h('a', { class: 'brand', href: '#/client' }, logo(30), h('span', { class: 'brand-text' }, h('b', null, 'Switchboard'), h('small', null, 'console'))),
    nav,
    o
      ? h(
          'div',
          { class: 'server-facts' },
          h('div', null, `v${o.version}`, ' · ', o.store),
          listeners ? h('div', null, listeners) : null,
          h('div', null, `anonymous: ${o.anonymous}`),
        )
      : null,
  );

  const menu = h('button', { type: 'button', class: 'btn btn-icon menu-btn', 'aria-label': 'Menu', 'aria-controls': 'sidebar', 'aria-expanded': 'false' }, icon(ICONS.menu));
  const scrim = h('div', { class: 'scrim' });
  const title = h('div', { class: 'topbar-title' });
  // The console's own MQTT test client, not the server: its state is named so.
  const mqtt = h('a', { href: '#/client', class: 'mqtt-state', 'data-testid': 'test-client-state', title: 'The console’s MQTT test client (not the server)' });
  const who = h(
    'span',
    { class: 'who', 'data-testid': 'user', title: ctx.user === 'loopback' ? 'Signed in automatically: you use the console from this machine' : `Signed in as ${ctx.user}` },
    icon(ICONS.user),
    h('span', { class: 'who-name' }, ctx.user === 'loopback' ? 'this machine' : ctx.user),
  );
  const out = h('button', { type: 'button', class: 'btn btn-ghost btn-small', 'data-testid': 'sign-out', title: 'Sign out' }, icon(ICONS.signOut), h('span', { class: 'hide-narrow' }, 'Sign out'));
  out.addEventListener('click', signOut);
  // From loopback nobody signed in: there is no session to end.
  out.hidden = ctx.user === 'loopback' || ctx.user === 'token';

  const topbar = h('header', { class: 'topbar' }, menu, title, h('span', { class: 'spacer' }), mqtt, who, out);
  const content = h('main', { class: 'content', id: 'content', tabindex: '-1' });
  // The first Tab stop: past the navigation, straight to the page.
  const skip = h('a', { href: '#content', class: 'skip-link', 'data-testid': 'skip-link' }, 'Skip to content');
  skip.addEventListener('click', (e) => {
    e.preventDefault(); // a hash link would change the route
    content.focus();
  });
  const root = h('div', { class: 'app' }, skip, sidebar, scrim, h('div', { class: 'main' }, topbar, content));

  const setOpen = (open: boolean) => {
    root.classList.toggle('nav-open', open);
    menu.setAttribute('aria-expanded', String(open));
  };
  menu.addEventListener('click', () => setOpen(!root.classList.contains('nav-open')));
  scrim.addEventListener('click', () => setOpen(false));
  nav.addEventListener('click', (e) => {
    if ((e.target as Element).closest('a')) setOpen(false);
  });

  const showMqtt = () => {
    const st = ctx.session.state;
    mqtt.className = `mqtt-state status-${st}`;
    replace(mqtt, h('i', { class: 'dot' }), h('span', { class: 'hide-narrow' }, `Test client: ${st}`));
  };
  const unlisten = ctx.session.changed.listen((c) => {
    if (c === 'connection') showMqtt();
  });
  showMqtt();

  replace(app, root);
  return {
    content,
    setActive(page) {
      for (const [path, a] of links) {
        if (path === page.path) a.setAttribute('aria-current', 'page');
        else a.removeAttribute('aria-current');
      }
      title.textContent = page.title;
    },
    destroy: unlisten,
  };
}
