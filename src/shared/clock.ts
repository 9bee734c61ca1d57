// Time as a dependency. Everything that waits — keep-alive, session and message expiry, will
// delays, authorizer refresh and disconnect deadlines — asks a Clock, so a test can move time
// forward with a ManualClock instead of sleeping through it, and the same code runs in both.
const MAX_NODE_DELAY = 2147483647; // setTimeout fires at once for longer delays (~24.8 days)

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch, like Date.now(). */
  now(): number;
  /** Runs fn once after ms; any length (session expiry may exceed Node's 24.8-day limit). */
  setTimeout(fn: () => void, ms: number): Timer;
  /** Runs fn every ms until cancelled. */
  setInterval(fn: () => void, ms: number): Timer;
}

/**
 * The real clock. Its timers are unref'd: what keeps a server alive is its listening sockets, and a
 * pending expiry must not keep a stopped process (or a finished test) from exiting.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const due = Date.now() + ms;
    let handle: NodeJS.Timeout | undefined;
    const arm = () => {
      const left = due - Date.now();
      if (left <= 0 && handle !== undefined) return fn();
      handle = setTimeout(arm, Math.max(0, Math.min(left, MAX_NODE_DELAY)));
      handle.unref();
    };
    arm();
    return { cancel: () => clearTimeout(handle) };
  },
  setInterval(fn, ms) {
    const handle = setInterval(fn, ms);
    handle.unref();
    return { cancel: () => clearInterval(handle) };
  },
};

interface Scheduled {
  due: number;
  seq: number;
  fn: () => void;
  every: number | undefined;
  live: boolean;
}

/**
 * A clock that moves only when told to. advance(ms) runs every timer that falls due within ms, in
 * due order (ties in the order they were set), with now() reading each timer's due time while it
 * runs; timers set by a running timer fire in the same advance if they fall due inside it.
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private readonly queue: Scheduled[] = [];

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.schedule(fn, Math.max(0, ms), undefined);
  }

  setInterval(fn: () => void, ms: number): Timer {
    // A zero period would make advance() loop forever; Node treats it as 1 ms too.
    return this.schedule(fn, Math.max(1, ms), Math.max(1, ms));
  }

  /** Timers still waiting to fire. */
  get pending(): number {
    return this.queue.filter((t) => t.live).length;
  }

  /** Moves time forward by ms, running what falls due. */
  advance(ms: number): void {
    const end = this.current + ms;
    for (let next = this.takeDue(end); next; next = this.takeDue(end)) {
      this.current = next.due;
      if (next.every !== undefined) this.push({ ...next, due: next.due + next.every, seq: this.seq++, live: true }, next);
      next.fn();
    }
    this.current = end;
  }

  /**
   * Like advance, but lets promises settle after each timer, for code that awaits between steps
   * (an authorizer call, a store write). Bounded: at most `maxTimers` timers per call.
   */
  async advanceAsync(ms: number, maxTimers = 10_000): Promise<void> {
    const end = this.current + ms;
    let fired = 0;
    await settle();
    for (let next = this.takeDue(end); next; next = this.takeDue(end)) {
      if (++fired > maxTimers) throw new Error(`ManualClock: more than ${maxTimers} timers in one advance`);
      this.current = next.due;
      if (next.every !== undefined) this.push({ ...next, due: next.due + next.every, seq: this.seq++, live: true }, next);
      next.fn();
      await settle();
    }
    this.current = end;
    await settle();
  }

  private schedule(fn: () => void, delay: number, every: number | undefined): Timer {
    const entry: Scheduled = { due: this.current + delay, seq: this.seq++, fn, every, live: true };
    this.queue.push(entry);
    // An interval re-queues itself under a new entry; cancelling must reach whichever is current.
    const handle = { entry, cancel: () => { handle.entry.live = false; } };
    this.handles.set(entry, handle);
    return handle;
  }

  private readonly handles = new WeakMap<Scheduled, { entry: Scheduled; cancel(): void }>();

  private push(entry: Scheduled, previous: Scheduled): void {
    const handle = this.handles.get(previous);
    if (handle) {
      handle.entry = entry;
      this.handles.set(entry, handle);
    }
    this.queue.push(entry);
  }

  private takeDue(end: number): Scheduled | undefined {
    let found = -1;
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const t = this.queue[i]!;
      // Cancelled entries are dropped as we go, so a long test does not accumulate them.
      if (!t.live) {
        this.queue.splice(i, 1);
        if (found > i) found--;
        continue;
      }
      if (t.due > end) continue;
      const best = found < 0 ? undefined : this.queue[found]!;
      if (!best || t.due < best.due || (t.due === best.due && t.seq < best.seq)) found = i;
    }
    if (found < 0) return undefined;
    const [next] = this.queue.splice(found, 1);
    next!.live = false;
    return next;
  }
}

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
