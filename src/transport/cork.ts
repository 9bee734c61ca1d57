// Coalesces the writes of one tick into one syscall: the first write corks the stream, and a single
// nextTick callback uncorks every stream corked during the tick. With fan-out, one publish writes to
// thousands of sockets, so per-socket callbacks would cost more than the writes.
import type { Writable } from 'node:stream';

let corked: Writable[] = [];
let scheduled = false;

function uncorkAll(): void {
  const list = corked;
  corked = [];
  scheduled = false;
  for (let i = 0; i < list.length; i++) list[i]!.uncork();
}

export function corkUntilNextTick(stream: Writable): void {
  if (stream.writableCorked > 0) return;
  stream.cork();
  corked.push(stream);
  if (!scheduled) {
    scheduled = true;
    process.nextTick(uncorkAll);
  }
}
