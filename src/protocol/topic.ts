// Topic names and topic filters: validation at the boundary, and the reference matcher.
//
// Pure functions; the decoder and the SUBSCRIBE/PUBLISH handlers call these once per packet so
// that everything downstream (trie, retained store, policies) may assume well-formed input.
//
// Statement numbers are MQTT 5.0 unless marked "3.1.1"; both versions have the same rules.
//
//   topic names (PUBLISH)      valid: 'a', 'a/b', '/', 'a//b', '/a/', '$SYS/x', 'ü/€'
//                              invalid: '' (empty), 'a/+' 'a#' (wildcard-in-name), 'a\u0000'
//   topic filters (SUBSCRIBE)  valid: '#', '+', 'a/#', '+/+', '/+', 'a//b', '$share/g/a/#'
//                              invalid: 'a/#/b' 'a#' 'a/b#' (bad-wildcard: '#' alone and last),
//                                       'a+' '+a/b' (bad-wildcard: '+' alone in its level),
//                                       '$share/g', '$share//a', '$share/g+/a', '$share/g/' (bad-share)
//
// Levels: a string has (number of '/') + 1 levels, so '/' has two empty levels and 'a//b' three.

export interface TopicLimits {
  /** Maximum UTF-8 byte length; the protocol's own cap is 65535 [MQTT-4.7.3-3]. */
  maxTopicBytes: number;
  /** Maximum number of levels; the spec sets none (§4.7.3), brokers do (AWS IoT: 8 levels). */
  maxTopicLevels: number;
}

export type TopicError =
  | 'empty'
  | 'too-long'
  | 'too-deep'
  | 'wildcard-in-name'
  | 'bad-wildcard'
  | 'null-char'
  | 'bad-share';

export interface SharedFilter {
  group: string;
  filter: string;
}

const SLASH = 0x2f; // '/'
const PLUS = 0x2b; // '+'
const HASH = 0x23; // '#'
const DOLLAR = 0x24; // '$'
const NUL = 0x00;

const SHARE_PREFIX = '$share/';

// Control characters: both versions say a UTF-8 string SHOULD NOT contain U+0001..U+001F or
// U+007F..U+009F, and a receiver MAY treat them as malformed (5.0 §1.5.4; 3.1.1 §1.5.3). Only
// U+0000 is a MUST NOT [MQTT-1.5.4-2] [MQTT-4.7.3-2] (3.1.1 [MQTT-1.5.3-2]). We reject U+0000
// alone: other brokers (AWS IoT, Mosquitto) accept the rest, and refusing them would break
// clients that work elsewhere for no safety gain, since we never normalise topics [MQTT-4.7.3-4].
// Ill-formed UTF-8 and surrogates [MQTT-1.5.4-1] are the codec's concern, on the raw bytes.

/**
 * Byte length and level limits for the part of a topic that counts (for a shared filter, the
 * part after `$share/{group}/`). Precondition: `s` is non-empty.
 */
function checkLimits(s: string, levels: number, limits: TopicLimits): TopicError | null {
  // A UTF-16 code unit never encodes to more than 3 UTF-8 bytes (a surrogate pair: 2 units,
  // 4 bytes), so short strings skip the O(n) byte count.
  if (s.length * 3 > limits.maxTopicBytes && Buffer.byteLength(s, 'utf8') > limits.maxTopicBytes) {
    return 'too-long'; // [MQTT-4.7.3-3] and the configured limit
  }
  if (levels > limits.maxTopicLevels) return 'too-deep';
  return null;
}

/**
 * Validate a Topic Name as carried by PUBLISH (or a Will Topic). With MQTT 5 topic aliases the
 * caller validates the resolved name: an empty name with an alias is the handler's business.
 */
export function validateTopicName(topic: string, limits: TopicLimits): TopicError | null {
  const n = topic.length;
  if (n === 0) return 'empty'; // [MQTT-4.7.3-1]
  let levels = 1;
  for (let i = 0; i < n; i++) {
    const c = topic.charCodeAt(i);
    if (c === SLASH) levels++;
    else if (c === PLUS || c === HASH) return 'wildcard-in-name'; // [MQTT-4.7.0-1] [MQTT-3.3.2-2]; 3.1.1 [MQTT-4.7.1-1]
    else if (c === NUL) return 'null-char'; // [MQTT-4.7.3-2]
  }
  return checkLimits(topic, levels, limits);
}

/**
 * Validate a Topic Filter as carried by SUBSCRIBE/UNSUBSCRIBE, including the shared form
 * `$share/{group}/{filter}` [MQTT-4.8.2-1] [MQTT-4.8.2-2]. Only the inner filter counts toward
 * the byte and level limits (AWS IoT behaviour: the `$share/group/` prefix is not counted).
 */
export function validateTopicFilter(filter: string, limits: TopicLimits): TopicError | null {
  if (filter.length === 0) return 'empty'; // [MQTT-4.7.3-1]
  if (filter.startsWith(SHARE_PREFIX)) {
    const groupEnd = filter.indexOf('/', SHARE_PREFIX.length);
    // [MQTT-4.8.2-1] ShareName at least one character; [MQTT-4.8.2-2] followed by '/' and a filter.
    if (groupEnd <= SHARE_PREFIX.length || groupEnd === filter.length - 1) return 'bad-share';
    for (let i = SHARE_PREFIX.length; i < groupEnd; i++) {
      const c = filter.charCodeAt(i);
      if (c === PLUS || c === HASH) return 'bad-share'; // [MQTT-4.8.2-2]; '/' excluded by construction
      if (c === NUL) return 'null-char'; // [MQTT-4.7.3-2]
    }
    // The inner filter is an ordinary filter: '$share/g/$share/h/x' shares the plain filter
    // '$share/h/x' and is not nested sharing.
    return validatePlainFilter(filter, groupEnd + 1, limits);
  }
  return validatePlainFilter(filter, 0, limits);
}

/** Validate `filter` from index `start` (non-empty remainder) as a non-shared filter. */
function validatePlainFilter(filter: string, start: number, limits: TopicLimits): TopicError | null {
  const n = filter.length;
  let levels = 1;
  let levelStart = start;
  for (let i = start; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === SLASH) {
      levels++;
      levelStart = i + 1;
    } else if (c === PLUS) {
      // [MQTT-4.7.1-2] '+' MUST occupy an entire level; 3.1.1 [MQTT-4.7.1-3]
      if (i !== levelStart || (i + 1 < n && filter.charCodeAt(i + 1) !== SLASH)) return 'bad-wildcard';
    } else if (c === HASH) {
      // [MQTT-4.7.1-1] '#' alone or after '/', and the last character; 3.1.1 [MQTT-4.7.1-2]
      if (i !== levelStart || i !== n - 1) return 'bad-wildcard';
    } else if (c === NUL) {
      return 'null-char'; // [MQTT-4.7.3-2]
    }
  }
  return checkLimits(start === 0 ? filter : filter.slice(start), levels, limits);
}

/**
 * Split `$share/{group}/{filter}` into its parts, or null when `filter` is not a shared
 * subscription (or lacks the '/' after the group). Does not validate: call validateTopicFilter
 * first, which rejects an empty group or inner filter.
 */
export function parseSharedFilter(filter: string): SharedFilter | null {
  if (!filter.startsWith(SHARE_PREFIX)) return null;
  const groupEnd = filter.indexOf('/', SHARE_PREFIX.length);
  if (groupEnd === -1) return null;
  return { group: filter.slice(SHARE_PREFIX.length, groupEnd), filter: filter.slice(groupEnd + 1) };
}

/** True for topics reserved to the server, such as '$SYS/...' and AWS's '$aws/...' (§4.7.2). */
export function isSystemTopic(topic: string): boolean {
  return topic.charCodeAt(0) === DOLLAR;
}

// The reference matcher lives in shared/ so the topic trie (also in shared/) can use it.
export { topicMatches } from '../shared/topic-match.js';
