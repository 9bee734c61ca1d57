// The names of every Redis key and channel the cluster uses, in one place. All start with the
// configured prefix (cluster.redis.keyPrefix, default "sb:"), so several clusters can share one Redis.
//   {p}nodes            sorted set  node id -> last heartbeat (Redis clock, ms)
//   {p}interest:{node}  set         the node's announced filters and $share/{group}/{filter} keys
//   {p}owners           hash        client ID -> node holding its connection or persistent session
//   {p}conns:{node}     hash        client ID -> presence record (lifecycle info, will) per connection
//   {p}reaped:{node}    string      set when a node was declared dead (1 h), so it learns of it
//   {p}reap-lock:{node} string      the one node cleaning up after a dead one
//   {p}adopted:{node}   string      the node that adopted a dead node's sessions (1 h): where the
//                                   frames the others still held for the dead node go
//   {p}taken:{node}     hash        client ID -> node that took its session from `node` while `node`
//                                   did not answer (1 h): where its share of what `node` had not
//                                   acknowledged goes
// Channels: {p}node:{id} (frames for one node), {p}all (interest changes, membership).
// The store's own keys (sessions, retained messages) are named in store/redis-*.ts.

export class ClusterKeys {
  /** Sorted set: node id -> last heartbeat. */
  readonly nodes: string;
  /** Hash: client ID -> owning node. */
  readonly owners: string;
  /** The channel every node listens on. */
  readonly all: string;

  constructor(readonly prefix: string) {
    this.nodes = `${prefix}nodes`;
    this.owners = `${prefix}owners`;
    this.all = `${prefix}all`;
  }

  /** The channel only `node` listens on. */
  channel(node: string): string {
    return `${this.prefix}node:${node}`;
  }
  interest(node: string): string {
    return `${this.prefix}interest:${node}`;
  }
  conns(node: string): string {
    return `${this.prefix}conns:${node}`;
  }
  reaped(node: string): string {
    return `${this.prefix}reaped:${node}`;
  }
  adoptedBy(node: string): string {
    return `${this.prefix}adopted:${node}`;
  }
  taken(node: string): string {
    return `${this.prefix}taken:${node}`;
  }
  reapLock(node: string): string {
    return `${this.prefix}reap-lock:${node}`;
  }
}
