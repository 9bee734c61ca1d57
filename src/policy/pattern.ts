/**
 * IAM-style glob matching for policy resources, actions and StringLike values.
 *
 * AWS IoT policies use IAM wildcards, not MQTT ones (pub-sub-policy.md, iot-policy-variables.md):
 *   `*`  any run of characters, including none and including `/`
 *   `?`  exactly one character
 *   `+`, `#`  ordinary characters
 *
 *   pattern `topic/fleet/*`   matches `topic/fleet/truck9/gps`, `topic/fleet/`      not `topic/fleets`
 *   pattern `topic/rack/??/x` matches `topic/rack/07/x`                             not `topic/rack/7/x`
 *   pattern `topicfilter/a/+` matches only the filter text `topicfilter/a/+`       not `topicfilter/a/b`
 *
 * A pattern is built from pieces: authored policy text, where `*` and `?` are wildcards, and
 * literal text (the `${*}` `${?}` `${$}` escapes and substituted variable values), where
 * they are not. Substituted values are literal so a client id of `*` cannot widen
 * `topic/devices/${iot:ClientId}/*` to every device (the AWS docs leave this case open; we
 * choose the reading that cannot escalate privilege).
 *
 * Matching is hand-written rather than a RegExp: the two-pointer algorithm below is
 * O(pattern x text) in the worst case and never backtracks exponentially, and the common
 * shapes (exact, `prefix*`, `*`) take a single string comparison.
 */

export interface PatternPiece {
  readonly text: string;
  /** true: `*` and `?` in `text` are ordinary characters. */
  readonly literal: boolean;
}

const STAR = -1;
const ONE = -2;

/**
 * Shape of a compiled pattern. Every wildcard pattern is split into a literal head (text
 * before the first wildcard: usually the whole `arn:aws:iot:REGION:ACCOUNT:topic/...`
 * prefix), a literal tail (after the last wildcard) and the wildcard middle, so the common
 * cases are one or two string comparisons and the general matcher only scans the middle.
 */
type Kind = 'never' | 'any' | 'exact' | 'wild';

export class GlobPattern {
  /** Matches no string at all: the compiled form of a resource whose variable has no value. */
  static readonly never: GlobPattern = new GlobPattern('never', '', '', null, 0, '<no value>');

  private constructor(
    private readonly kind: Kind,
    /** Exact text, or the literal text before the first wildcard. */
    private readonly head: string,
    /** The literal text after the last wildcard. */
    private readonly tail: string,
    /** From the first to the last wildcard, as code units with STAR and ONE; null when it is a lone `*`. */
    private readonly middle: Int32Array | null,
    /** No shorter text can match. */
    private readonly minLength: number,
    /** The pattern as written, for diagnostics. */
    readonly source: string,
  ) {}

  static fromPieces(pieces: readonly PatternPiece[], source?: string): GlobPattern {
    const units: number[] = [];
    let display = '';
    for (const piece of pieces) {
      display += piece.literal ? escapeForDisplay(piece.text) : piece.text;
      for (let i = 0; i < piece.text.length; i++) {
        const c = piece.text.charCodeAt(i);
        if (!piece.literal && c === 0x2a /* * */) {
          // Consecutive stars mean the same as one; collapsing keeps the matcher linear in practice.
          if (units.length === 0 || units[units.length - 1] !== STAR) units.push(STAR);
        } else if (!piece.literal && c === 0x3f /* ? */) {
          units.push(ONE);
        } else {
          units.push(c);
        }
      }
    }
    return GlobPattern.fromUnits(units, source ?? display);
  }

  /** A pattern written entirely in policy syntax: every `*` and `?` is a wildcard. */
  static compile(source: string): GlobPattern {
    return GlobPattern.fromPieces([{ text: source, literal: false }], source);
  }

  private static fromUnits(units: readonly number[], source: string): GlobPattern {
    let first = -1;
    let last = -1;
    let ones = 0;
    for (let i = 0; i < units.length; i++) {
      const u = units[i] as number;
      if (u === STAR || u === ONE) {
        if (first < 0) first = i;
        last = i;
        if (u === ONE) ones++;
      }
    }
    if (first < 0) {
      const text = textOf(units, 0, units.length);
      return new GlobPattern('exact', text, '', null, text.length, source);
    }
    if (units.length === 1 && units[0] === STAR) return new GlobPattern('any', '', '', null, 0, source);
    const head = textOf(units, 0, first);
    const tail = textOf(units, last + 1, units.length);
    const middle = first === last && units[first] === STAR ? null : Int32Array.from(units.slice(first, last + 1));
    return new GlobPattern('wild', head, tail, middle, head.length + tail.length + ones, source);
  }

  /** True when the pattern has no wildcard (it is one exact string). */
  get isExact(): boolean {
    return this.kind === 'exact';
  }

  matches(text: string): boolean {
    if (this.kind === 'exact') return text === this.head;
    if (this.kind === 'wild') {
      const end = text.length - this.tail.length;
      return (
        text.length >= this.minLength &&
        hasPrefix(text, this.head) &&
        (this.tail === '' || text.endsWith(this.tail)) &&
        (this.middle === null || globMatch(this.middle, text, this.head.length, end))
      );
    }
    return this.kind === 'any';
  }
}

/**
 * `text.startsWith(head)` for text at least as long as head. Request ARNs of one connection
 * share a long prefix, so mismatches are usually near the end of head: test its last
 * character first. `substring` + `===` is also much faster than `startsWith` on Node 20.
 */
function hasPrefix(text: string, head: string): boolean {
  const n = head.length;
  return n === 0 || (text.charCodeAt(n - 1) === head.charCodeAt(n - 1) && text.substring(0, n) === head);
}

function textOf(units: readonly number[], from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) s += String.fromCharCode(units[i] as number);
  return s;
}

function escapeForDisplay(text: string): string {
  return text.replace(/[*?$]/g, (c) => '${' + c + '}');
}

function isHigh(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLow(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * Wildcard match of `pattern` against text[from, to), with one remembered star: on a
 * mismatch, let the last star swallow one more character and retry from there. Remembering
 * only the last star is enough because a later star can absorb anything an earlier one could.
 * `?` takes a whole surrogate pair so that it means one character, not one UTF-16 unit.
 */
function globMatch(pattern: Int32Array, text: string, from: number, to: number): boolean {
  const m = pattern.length;
  let p = 0;
  let t = from;
  let starP = -1;
  let starT = 0;
  while (t < to) {
    const pc = p < m ? (pattern[p] as number) : 0;
    if (p < m && pc === ONE) {
      t += isHigh(text.charCodeAt(t)) && t + 1 < to && isLow(text.charCodeAt(t + 1)) ? 2 : 1;
      p++;
    } else if (p < m && pc === STAR) {
      starP = p++;
      starT = t;
    } else if (p < m && pc === text.charCodeAt(t)) {
      p++;
      t++;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < m && pattern[p] === STAR) p++;
  return p === m;
}
