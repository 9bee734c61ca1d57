// Packet identifiers for server -> client QoS 1/2: non-zero [MQTT-2.2.1-3], and not reused while
// the previous use is unacknowledged [MQTT-2.2.1-3 / 2.3.1-2]. Cycles 1..65535 so a just-freed id is
// not reused at once (helps clients that match acks loosely).
export class PacketIdAllocator {
  private next = 1;

  /** Returns a free id, or 0 when all 65,535 are in use. */
  allocate(inUse: { has(id: number): boolean; readonly size: number }): number {
    if (inUse.size >= 65535) return 0;
    for (;;) {
      const id = this.next;
      this.next = id === 65535 ? 1 : id + 1;
      if (!inUse.has(id)) return id;
    }
  }
}
