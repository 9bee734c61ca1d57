// What the broker asks of a cluster backplane (cluster/ implements it). The broker knows only this
// interface, so a single node runs with none and tests can run the broker without Redis.
import type { Message, Origin } from '../shared/message.js';
import type { Delivery } from './session.js';

export interface ClusterHooks {
  /**
   * Sends a message published on this node to the other nodes with a matching subscription.
   * Returns the shared-subscription groups ("group\u0000filter") this node delivers the message to:
   * a shared group picks one member across the whole cluster, so the others deliver nothing.
   */
  forward(message: Message): ReadonlySet<string>;
  /**
   * Asked first by every publish made on this node: true when the cluster keeps it instead, because
   * this node may no longer be a member (it was paused past its lease and may have been declared
   * dead, its sessions adopted elsewhere). The cluster publishes it once a heartbeat renews the
   * lease, or drops it when the node is fenced (its clients are disconnected unacknowledged).
   */
  park(message: Message, origin: Origin): boolean;
  /**
   * Called synchronously right after the publish whose forward() it follows: runs `callback` once
   * the QoS 1/2 copies that publish sent to other nodes are durable there (or, for a node that
   * died first, on the node that adopted its sessions), and this node is still a member. Returns
   * false without taking the callback when there is nothing to wait for. Never calls back
   * synchronously. `delivered` is false when a copy was given up instead (a full outbox, a dead
   * node nobody adopted): the publish must then be refused, not acknowledged.
   */
  whenForwarded(callback: (delivered: boolean) => void): boolean;
  /** This node's subscription index gained (lost) its first (last) entry under `key`. */
  interestAdded(key: string): void;
  interestRemoved(key: string): void;
  /**
   * A shared group here gained its first connected member (`live`) or lost its last one. The
   * cluster then prefers a node with a connected member over one whose members are all offline,
   * as a single node prefers a connected member (router.ts pickMember).
   */
  sharedGroupLive(group: string, filter: string, live: boolean): void;
  /**
   * Asked while routing a message to the shared group `group` ("group\u0000filter") that the
   * cluster picked this node for, when no connected member here may receive it; `canKeep`: a
   * persistent member here may (QoS 1/2). True: the cluster passed it on to another node with a
   * connected member (a publish's acknowledgement then waits for that node too, as whenForwarded
   * says), so nothing is delivered here. False: queue it here, or drop and count it.
   */
  passOn(message: Message, group: string, canKeep: boolean): boolean;
  /** Pending while other nodes have not yet learnt of an interest change; null when settled. */
  interestSettled(): Promise<void> | null;
  /**
   * Before a CONNECT opens its session: closes the client ID's connection on whichever node holds
   * it and, without clean start, brings its persistent session here. Throws a ProtocolError to
   * refuse the CONNECT.
   */
  claim(clientId: string, cleanStart: boolean): Promise<void>;
  sessionOpened(clientId: string): void;
  sessionEnded(clientId: string): void;
  /**
   * A delivery to an offline session this node is handing to another node: the cluster sends it
   * there and returns true; false means deliver here as usual.
   */
  divert(clientId: string, delivery: Delivery): boolean;
}
