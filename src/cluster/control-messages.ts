// The control messages nodes send each other on the backplane (frame kind 3, see frames.ts): one
// discriminated union, JSON on the wire with the same field names. The decoder is the receiving
// boundary: a frame on a node's channel may come from anyone who can publish to Redis, so every
// field is checked and anything the encoder would not have written (an unknown type, a missing or
// extra field, a wrong type, an invalid filter) throws; the caller counts, logs and drops it.
//   valid:   {"type":"ack","from":"n1","seq":3}
//            {"type":"interest","from":"n1","op":"add","key":"$share/g/a/#","requestId":"n1:7"}
//   invalid: {"t":"ack"} (the one-letter format before this module), {"type":"ack","from":"n1","seq":-1},
//            {"type":"interest","from":"n1","op":"add","key":"a/#/b"}, {"type":"rpc",...,"args":[1]},
//            {"type":"ack","from":"n1","seq":3,"extra":1}, {"type":"shutdown","from":"n1"}
import { validateTopicFilter, type TopicLimits } from '../protocol/topic.js';
import { FRAME_CONTROL } from './frames.js';
import { sharedKeyOfLive } from './interest.js';

/** Arguments of a call between nodes: a JSON object, checked by the handler it names. */
export type RpcArgs = Record<string, unknown>;

export type ControlMessage =
  /** Cumulative: every reliable frame from the receiver's link up to `seq` is delivered and durable. */
  | { type: 'ack'; from: string; seq: number }
  /** The sender gave up its reliable frames up to `seq` (its outbox overflowed): continue after them. */
  | { type: 'skip'; from: string; seq: number }
  /** The sender's interest gained or lost `key`; with a `requestId`, it waits for an interest-ack. */
  | { type: 'interest'; from: string; op: 'add' | 'remove'; key: string; requestId?: string }
  | { type: 'interest-ack'; from: string; requestId: string }
  /** The sender (re)wrote its state: reload its interest snapshot. */
  | { type: 'resync'; from: string }
  /** The sender is stopping: clean up after it now rather than after the timeout. */
  | { type: 'left'; from: string }
  /**
   * `node` was declared dead and cleaned up after (its persistent sessions adopted by `by`, some
   * taken before by reconnecting clients to `takers`): forget it.
   */
  | { type: 'reaped'; node: string; by?: string; takers?: string[] }
  /** The sender now routes the moved session `clientId` itself: its old node may let go. */
  | { type: 'moved'; from: string; clientId: string }
  | RpcRequest
  | RpcReply;

export interface RpcRequest {
  type: 'rpc';
  from: string;
  id: string;
  op: string;
  args: RpcArgs;
}

export type RpcReply = { type: 'rpc-reply'; id: string; ok: true; value: unknown } | { type: 'rpc-reply'; id: string; ok: false; error: string };

export type ControlType = ControlMessage['type'];

export function encodeControlFrame(message: ControlMessage): Buffer {
  const text = Buffer.from(JSON.stringify(message));
  const out = Buffer.allocUnsafe(1 + text.length);
  out[0] = FRAME_CONTROL;
  text.copy(out, 1);
  return out;
}

/** Throws unless the frame is a control frame holding one well-formed ControlMessage. */
export function decodeControlFrame(frame: Buffer): ControlMessage {
  if (frame[0] !== FRAME_CONTROL) throw new Error(`not a control frame (${frame[0]})`);
  let value: unknown;
  try {
    value = JSON.parse(frame.toString('utf8', 1));
  } catch {
    throw new Error('control frame is not JSON');
  }
  return checkControl(value);
}

// Bounds on what another node may send (ours are far smaller): a node id fits a message frame's
// one-byte origin length; a client ID is an MQTT UTF-8 string (at most 65,535 bytes).
const MAX_NODE_ID_BYTES = 255;
const MAX_CLIENT_ID_BYTES = 65_535;
const MAX_ID_LENGTH = 1024;
const MAX_OP_LENGTH = 256;
/** Nodes named in one 'reaped' message (the cluster's size, far below). */
const MAX_TAKERS = 1024;
// Only the protocol's own bounds [MQTT-4.7.3-3]: members need not share their configured limits.
const INTEREST_LIMITS: TopicLimits = { maxTopicBytes: 65_535, maxTopicLevels: Number.POSITIVE_INFINITY };

/** The fields each type carries (besides `type`); a field not listed here is refused. */
const FIELDS: Record<ControlType, { required: readonly string[]; optional?: readonly string[] }> = {
  ack: { required: ['from', 'seq'] },
  skip: { required: ['from', 'seq'] },
  interest: { required: ['from', 'op', 'key'], optional: ['requestId'] },
  'interest-ack': { required: ['from', 'requestId'] },
  resync: { required: ['from'] },
  left: { required: ['from'] },
  reaped: { required: ['node'], optional: ['by', 'takers'] },
  moved: { required: ['from', 'clientId'] },
  rpc: { required: ['from', 'id', 'op', 'args'] },
  'rpc-reply': { required: ['id', 'ok'], optional: ['value', 'error'] },
};

const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isControlType = (v: unknown): v is ControlType => typeof v === 'string' && Object.hasOwn(FIELDS, v);

function checkControl(value: unknown): ControlMessage {
  if (!isPlainObject(value)) throw new Error('control message is not an object');
  const type = value.type;
  if (typeof type !== 'string') throw new Error('control message has no type');
  if (!isControlType(type)) throw new Error(`unknown control message type (${type.slice(0, 40)})`);
  const fields = FIELDS[type];
  for (const name of fields.required) if (!Object.hasOwn(value, name)) throw new Error(`${type} message has no ${name}`);
  for (const name of Object.keys(value)) {
    if (name !== 'type' && !fields.required.includes(name) && !(fields.optional ?? []).includes(name)) {
      throw new Error(`${type} message has an unknown field (${name.slice(0, 40)})`);
    }
  }
  switch (type) {
    case 'ack':
      return { type, from: nodeId(value.from, type), seq: sequence(value.seq, 0, type) };
    case 'skip':
      return { type, from: nodeId(value.from, type), seq: sequence(value.seq, 1, type) };
    case 'interest': {
      const op = value.op;
      if (op !== 'add' && op !== 'remove') throw new Error('interest message has a bad op');
      const key = value.key;
      // A live key (interest.ts) is checked as the shared filter it stands for.
      if (typeof key !== 'string' || validateTopicFilter(sharedKeyOfLive(key) ?? key, INTEREST_LIMITS) !== null) throw new Error('interest message has an invalid filter');
      const message: ControlMessage = { type, from: nodeId(value.from, type), op, key };
      if (value.requestId !== undefined) message.requestId = id(value.requestId, type, 'requestId');
      return message;
    }
    case 'interest-ack':
      return { type, from: nodeId(value.from, type), requestId: id(value.requestId, type, 'requestId') };
    case 'resync':
    case 'left':
      return { type, from: nodeId(value.from, type) };
    case 'reaped': {
      const message: ControlMessage = { type, node: nodeId(value.node, type) };
      if (value.by !== undefined) message.by = nodeId(value.by, type);
      if (value.takers !== undefined) {
        const takers = value.takers;
        if (!Array.isArray(takers) || takers.length > MAX_TAKERS) throw new Error('reaped message has bad takers');
        message.takers = takers.map((t) => nodeId(t, type));
      }
      return message;
    }
    case 'moved': {
      const clientId = value.clientId;
      if (typeof clientId !== 'string' || clientId.length === 0 || Buffer.byteLength(clientId) > MAX_CLIENT_ID_BYTES) throw new Error('moved message has a bad clientId');
      return { type, from: nodeId(value.from, type), clientId };
    }
    case 'rpc': {
      const op = value.op;
      if (typeof op !== 'string' || op.length === 0 || op.length > MAX_OP_LENGTH) throw new Error('rpc message has a bad op');
      if (!isPlainObject(value.args)) throw new Error('rpc message args are not an object');
      return { type, from: nodeId(value.from, type), id: id(value.id, type, 'id'), op, args: value.args };
    }
    case 'rpc-reply': {
      const replyId = id(value.id, type, 'id');
      if (value.ok === true) {
        if (!Object.hasOwn(value, 'value') || Object.hasOwn(value, 'error')) throw new Error('rpc-reply message has ok without (only) a value');
        return { type, id: replyId, ok: true, value: value.value };
      }
      if (value.ok === false) {
        if (typeof value.error !== 'string' || Object.hasOwn(value, 'value')) throw new Error('rpc-reply message has a failure without (only) an error');
        return { type, id: replyId, ok: false, error: value.error };
      }
      throw new Error('rpc-reply message has a bad ok');
    }
  }
}

function nodeId(v: unknown, type: string): string {
  if (typeof v !== 'string' || v.length === 0 || Buffer.byteLength(v) > MAX_NODE_ID_BYTES) throw new Error(`${type} message has a bad node id`);
  return v;
}

function sequence(v: unknown, min: number, type: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new Error(`${type} message has a bad seq`);
  return v;
}

function id(v: unknown, type: string, name: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_ID_LENGTH) throw new Error(`${type} message has a bad ${name}`);
  return v;
}
