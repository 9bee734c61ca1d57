// Short notices in a corner ("Disconnected page-1", errors of background requests).
import { h } from '../dom.js';

export class Toasts {
  private readonly host = h('div', { class: 'toasts', role: 'status', 'aria-live': 'polite' });

  constructor() {
    document.body.appendChild(this.host);
  }

  show(text: string, kind: 'ok' | 'error' | 'info' = 'info', ms = 4000): void {
    const el = h('div', { class: `toast toast-${kind}` }, text);
    this.host.appendChild(el);
    window.setTimeout(() => {
      el.classList.add('leaving');
      window.setTimeout(() => el.remove(), 300);
    }, ms);
  }
}
