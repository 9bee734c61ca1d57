// A confirmation dialog on the native <dialog> element (focus trap and Esc for free).
import { h } from '../dom.js';

export interface ConfirmOptions {
  title: string;
  body: string;
  confirm: string;
  danger?: boolean;
}

export function confirmDialog(o: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const cancel = h('button', { class: 'btn', type: 'button', value: 'cancel' }, 'Cancel');
    const ok = h('button', { class: `btn ${o.danger ? 'btn-danger' : 'btn-primary'}`, type: 'button', value: 'ok', 'data-testid': 'confirm-ok' }, o.confirm);
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': 'dialog-title' },
      h('h2', { id: 'dialog-title' }, o.title),
      h('p', null, o.body),
      h('div', { class: 'dialog-actions' }, cancel, ok),
    );
    let answer = false;
    cancel.addEventListener('click', () => dialog.close());
    ok.addEventListener('click', () => {
      answer = true;
      dialog.close();
    });
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    ok.focus();
  });
}
