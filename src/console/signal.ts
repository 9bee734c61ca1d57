// A minimal typed event source: models (the MQTT test session) announce changes, views listen
// and unlisten when they unmount.
export class Signal<T> {
  private readonly listeners = new Set<(value: T) => void>();

  /** Adds a listener; returns the function that removes it. */
  listen(fn: (value: T) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(value: T): void {
    for (const fn of [...this.listeners]) fn(value);
  }
}
