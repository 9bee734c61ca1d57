// setTimeout fires at once for delays above 2^31-1 ms (~24.8 days); session expiry may be longer.
const MAX = 2147483647;

export interface LongTimeout {
  cancel(): void;
}

export function setLongTimeout(fn: () => void, ms: number): LongTimeout {
  const due = Date.now() + ms;
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = due - Date.now();
    if (left <= 0) return fn();
    timer = setTimeout(arm, Math.min(left, MAX));
    timer.unref();
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}
