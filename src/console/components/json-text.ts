// Pretty-printing a JSON text without changing a single value in it. JSON.parse turns numbers into
// doubles, so printing the parsed value rewrites them: 12345678901234567890 becomes
// 12345678901234567000 and 1.10 becomes 1.1. A person debugging a device needs the payload as the
// device sent it, so this re-indents the text's own tokens instead: each number, string and
// literal is copied character for character, only the whitespace between tokens changes.
//
//   prettyJson('{"a":1.10,"b":[12345678901234567890]}') ->
//     {
//       "a": 1.10,
//       "b": [
//         12345678901234567890
//       ]
//     }
//
// No DOM here (a Node test runs it): the view colours the parts (json-view.ts).

export type JsonPartKind = 'key' | 'str' | 'num' | 'lit' | 'punct' | 'space';

export interface JsonPart {
  kind: JsonPartKind;
  text: string;
}

// RFC 8259 section 6: -? int frac? exp?
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// Section 7: a string is quote, then unescaped characters or escapes, then quote.
const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const LITERAL = /true|false|null/y;
const SPACE = /[ \t\n\r]*/y;

interface Token {
  kind: 'str' | 'num' | 'lit' | 'punct';
  text: string;
}

/** The tokens of a JSON text, or undefined when a character fits no token. */
function tokenize(text: string): Token[] | undefined {
  const tokens: Token[] = [];
  let i = 0;
  const at = (re: RegExp): string | undefined => {
    re.lastIndex = i;
    const m = re.exec(text);
    return m && m[0].length > 0 ? m[0] : undefined;
  };
  for (;;) {
    SPACE.lastIndex = i;
    SPACE.exec(text);
    i = SPACE.lastIndex;
    if (i >= text.length) return tokens;
    const c = text[i]!;
    let t: string | undefined;
    let kind: Token['kind'];
    if ('{}[]:,'.includes(c)) {
      t = c;
      kind = 'punct';
    } else if (c === '"') {
      t = at(STRING);
      kind = 'str';
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      t = at(NUMBER);
      kind = 'num';
    } else {
      t = at(LITERAL);
      kind = 'lit';
    }
    if (t === undefined) return undefined;
    tokens.push({ kind, text: t });
    i += t.length;
  }
}

/**
 * The parts of a JSON object or array text, indented by two spaces as JSON.stringify(v, null, 2)
 * would, every token exactly as written; undefined when the text is not a JSON object or array.
 */
export function prettyJson(text: string): JsonPart[] | undefined {
  const t = text.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return undefined;
  // The grammar is checked by the platform's parser; the tokens below are then known to nest.
  try {
    JSON.parse(t);
  } catch {
    return undefined;
  }
  const tokens = tokenize(t);
  if (tokens === undefined) return undefined;
  const out: JsonPart[] = [];
  let depth = 0;
  const newline = () => out.push({ kind: 'space', text: '\n' + '  '.repeat(depth) });
  for (let k = 0; k < tokens.length; k++) {
    const tok = tokens[k]!;
    const next = tokens[k + 1];
    if (tok.kind !== 'punct') {
      // A string followed by ':' is an object key.
      out.push({ kind: tok.kind === 'str' && next?.text === ':' ? 'key' : tok.kind, text: tok.text });
      continue;
    }
    switch (tok.text) {
      case '{':
      case '[': {
        const close = tok.text === '{' ? '}' : ']';
        if (next?.text === close) {
          out.push({ kind: 'punct', text: tok.text + close });
          k++;
        } else {
          out.push({ kind: 'punct', text: tok.text });
          depth++;
          newline();
        }
        break;
      }
      case '}':
      case ']':
        depth--;
        newline();
        out.push({ kind: 'punct', text: tok.text });
        break;
      case ',':
        out.push({ kind: 'punct', text: ',' });
        newline();
        break;
      default:
        out.push({ kind: 'punct', text: ':' }, { kind: 'space', text: ' ' });
    }
  }
  return out;
}

/** The pretty text itself (the parts joined). */
export function prettyJsonText(text: string): string | undefined {
  return prettyJson(text)?.map((p) => p.text).join('');
}
