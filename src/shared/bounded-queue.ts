// A FIFO with a fixed capacity that drops its oldest entry when full (the issue asks for
// oldest-first drop on a full session queue). Array + head index: O(1) push and shift.
export class BoundedQueue<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  capacity: number;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** Appends; returns the entry dropped to make room, if any. */
  push(item: T): T | undefined {
    let dropped: T | undefined;
    if (this.length >= this.capacity) dropped = this.shift();
    this.items.push(item);
    return dropped;
  }

  /** Puts an entry back at the front (used when a send must wait after all). */
  unshift(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    // Compact once the dead prefix dominates, so memory follows the live length.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}
