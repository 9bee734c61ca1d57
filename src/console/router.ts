// Hash routes (#/client, #/connections/{clientId}, ...), so the server needs no fallback route:
// every URL the console makes is / plus a fragment.
import type { Context, PageDefinition, PageHandle } from './context.js';

export interface Route {
  path: string;
  params: string[];
}

/** '#/connections/a%2Fb' -> { path: 'connections', params: ['a/b'] } */
export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  const decode = (p: string) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  };
  return { path: parts[0] ?? '', params: parts.slice(1).map(decode) };
}

export class Router {
  private current: { page: PageDefinition; handle: PageHandle } | null = null;
  private readonly onHashChange = () => this.render();

  constructor(
    private readonly pages: readonly PageDefinition[],
    private readonly host: HTMLElement,
    private readonly ctx: Context,
    private readonly onNavigate: (page: PageDefinition) => void,
  ) {}

  start(): void {
    window.addEventListener('hashchange', this.onHashChange);
    this.render();
  }

  stop(): void {
    window.removeEventListener('hashchange', this.onHashChange);
    this.current?.handle.unmount();
    this.current = null;
  }

  render(): void {
    const route = parseHash(location.hash);
    const page = this.pages.find((p) => p.path === route.path);
    if (!page) {
      // The test client is the landing page, as in AWS's console.
      location.replace(`#/${this.pages[0]!.path}`);
      return;
    }
    if (this.current?.page === page && this.current.handle.update) {
      this.current.handle.update(route.params);
    } else {
      this.current?.handle.unmount();
      this.host.replaceChildren();
      this.host.scrollTop = 0;
      window.scrollTo(0, 0);
      this.current = { page, handle: page.mount(this.host, this.ctx, route.params) };
    }
    document.title = `${page.title} · Switchboard`;
    this.onNavigate(page);
  }
}
