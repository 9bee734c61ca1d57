// Topic filter matching, the reference semantics the topic trie and the retained stores agree on.
const PLUS = 0x2b; // '+'
const HASH = 0x23; // '#'
const DOLLAR = 0x24; // '$'

/**
 * Reference matcher with spec semantics, allocation-free:
 *  - '+' matches exactly one level, which may be empty ('+/+' matches '/x');
 *  - '#' matches any number of levels including none, so 'a/#' matches 'a' (spec §4.7.1.2;
 *    AWS IoT differs here, we follow the spec);
 *  - filters starting with '+' or '#' never match topics starting with '$' [MQTT-4.7.2-1];
 *  - no normalisation of either side [MQTT-4.7.3-4].
 * Precondition: `filter` is a valid, non-shared filter. A '+' or '#' that is not a whole level
 * is compared as an ordinary character.
 */
export function topicMatches(filter: string, topic: string): boolean {
  const fl = filter.length;
  const tl = topic.length;
  if (fl > 0 && tl > 0 && topic.charCodeAt(0) === DOLLAR) {
    const c = filter.charCodeAt(0);
    if (c === PLUS || c === HASH) return false; // [MQTT-4.7.2-1]
  }
  // f: start of the current filter level. t: start of the current topic level, or tl + 1 once
  // the topic has no more levels (a topic ending in '/' still has one more, empty, level).
  let f = 0;
  let t = 0;
  for (;;) {
    let fEnd = filter.indexOf('/', f);
    if (fEnd === -1) fEnd = fl;
    const single = fEnd - f === 1;
    if (single && filter.charCodeAt(f) === HASH) return true;
    if (t > tl) return false;
    let tEnd = topic.indexOf('/', t);
    if (tEnd === -1) tEnd = tl;
    if (!(single && filter.charCodeAt(f) === PLUS)) {
      if (fEnd - f !== tEnd - t) return false;
      for (let i = f, j = t; i < fEnd; i++, j++) {
        if (filter.charCodeAt(i) !== topic.charCodeAt(j)) return false;
      }
    }
    if (fEnd === fl) return tEnd === tl;
    f = fEnd + 1;
    t = tEnd + 1;
  }
}
