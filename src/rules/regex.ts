/**
 * Regular expressions for regexp_matches / regexp_replace / regexp_substr.
 *
 * AWS evaluates Java regular expressions. We use JavaScript's, which agree on the common
 * syntax (classes, groups, quantifiers, anchors, `\d \w \s`, named groups `(?<n>...)`); a
 * leading inline-flag group such as `(?i)` is turned into flags. Constructs JavaScript lacks
 * (possessive quantifiers, `\A`, `\Z`) make the pattern invalid, and an invalid pattern gives
 * Undefined, as the docs say for a pattern Java rejects.
 *
 * Replacement strings follow Java's Matcher rules: `$n` and `${name}` insert groups, a
 * backslash makes the next character literal, and any other `$` is an invalid replacement
 * (Undefined).
 */

/** A compiled pattern: `find` (non-global) for matching, `all` (global) for replacing. */
export interface CompiledRegex {
  readonly find: RegExp;
  readonly all: RegExp;
  readonly groupCount: number;
  readonly groupNames: ReadonlySet<string>;
}

const INLINE_FLAGS = /^\(\?([imsux]+)\)/;

export function compileJavaRegex(pattern: string): CompiledRegex | undefined {
  let source = pattern;
  let flags = '';
  const inline = INLINE_FLAGS.exec(source);
  if (inline) {
    for (const f of inline[1]!) {
      if (f === 'i' || f === 'm' || f === 's') flags += flags.includes(f) ? '' : f;
      else if (f === 'x') return undefined; // comments mode has no JavaScript equivalent
      // 'u' (Unicode case folding) is close enough to JavaScript's default.
    }
    source = source.slice(inline[0].length);
  }
  try {
    const find = new RegExp(source, flags);
    const all = new RegExp(source, flags + 'g');
    const probe = new RegExp(`${source}|`, flags).exec('');
    const groupNames = new Set(Object.keys(probe?.groups ?? {}));
    return { find, all, groupCount: probe ? probe.length - 1 : 0, groupNames };
  } catch {
    return undefined;
  }
}

/** A bounded cache for patterns that are not literals in the SQL. */
export class RegexCache {
  private readonly map = new Map<string, CompiledRegex | null>();

  constructor(private readonly capacity = 32) {}

  get(pattern: string): CompiledRegex | undefined {
    let hit = this.map.get(pattern);
    if (hit === undefined) {
      hit = compileJavaRegex(pattern) ?? null;
      if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value!);
      this.map.set(pattern, hit);
    }
    return hit ?? undefined;
  }
}

type ReplacementPart = string | number | { readonly name: string };

/** Parse a Java replacement string against a pattern's groups; undefined when invalid. */
export function parseJavaReplacement(replacement: string, regex: CompiledRegex): ReplacementPart[] | undefined {
  const parts: ReplacementPart[] = [];
  let text = '';
  const n = replacement.length;
  for (let i = 0; i < n; i++) {
    const c = replacement[i]!;
    if (c === '\\') {
      if (i + 1 >= n) return undefined; // "character to be escaped is missing"
      text += replacement[++i];
    } else if (c === '$') {
      if (i + 1 >= n) return undefined; // "Illegal group reference: group index is missing"
      if (replacement[i + 1] === '{') {
        const close = replacement.indexOf('}', i + 2);
        if (close < 0) return undefined;
        const name = replacement.slice(i + 2, close);
        if (!regex.groupNames.has(name)) return undefined;
        if (text) parts.push(text);
        text = '';
        parts.push({ name });
        i = close;
      } else {
        let d = replacement.charCodeAt(i + 1) - 0x30;
        if (d < 0 || d > 9) return undefined;
        if (d > regex.groupCount) return undefined; // "No group d"
        i++;
        // Java takes further digits while the number stays a valid group.
        while (i + 1 < n) {
          const next = replacement.charCodeAt(i + 1) - 0x30;
          if (next < 0 || next > 9 || d * 10 + next > regex.groupCount) break;
          d = d * 10 + next;
          i++;
        }
        if (text) parts.push(text);
        text = '';
        parts.push(d);
      }
    } else {
      text += c;
    }
  }
  if (text) parts.push(text);
  return parts;
}

/** Replace every match of `regex` in `input` using parsed replacement parts. */
export function replaceAll(input: string, regex: CompiledRegex, parts: readonly ReplacementPart[]): string {
  regex.all.lastIndex = 0;
  return input.replace(regex.all, (...m: unknown[]) => {
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') out += p;
      else if (typeof p === 'number') out += (m[p] as string | undefined) ?? '';
      else {
        const groups = m[m.length - 1];
        out += (typeof groups === 'object' && groups !== null ? (groups as Record<string, string | undefined>)[p.name] : undefined) ?? '';
      }
    }
    return out;
  });
}
