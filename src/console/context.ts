// What every page is given (built once in main.ts and passed down; nothing global).
import type { Api } from './api.js';
import type { Overview } from './api-types.js';
import type { Toasts } from './components/toast.js';
import type { TestSession } from './mqtt/test-session.js';

export interface Context {
  api: Api;
  /** 'admin' (signed in) or 'loopback' (this machine, no sign-in needed). */
  user: string;
  overview: Overview | null;
  session: TestSession;
  toasts: Toasts;
}

/** A mounted page: `update` takes new route parameters without remounting, `unmount` stops timers. */
export interface PageHandle {
  update?(params: string[]): void;
  unmount(): void;
}

export interface PageDefinition {
  path: string;
  title: string;
  icon: readonly string[];
  mount(root: HTMLElement, ctx: Context, params: string[]): PageHandle;
}

/** Runs `fn` every `ms` while the tab is visible, never overlapping itself; returns the stopper. */
export function poll(fn: () => Promise<void>, ms: number): () => void {
  let stopped = false;
  let timer = 0;
  const tick = async () => {
    if (stopped) return;
    if (!document.hidden) {
      try {
        await fn();
      } catch {
        // The page shows its own errors; polling goes on.
      }
    }
    if (!stopped) timer = window.setTimeout(tick, ms);
  };
  timer = window.setTimeout(tick, ms);
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}
