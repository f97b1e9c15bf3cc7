// The RE2 subset the native fast path understands, parsed into a small AST. Anything the parser
// does not know (flags, \pL, POSIX classes, \s \w \b, other escapes, a literal '{' or ']', a
// lone surrogate) throws Unsupported: the caller then keeps the pattern on re2js.

/** Code point ranges [lo, hi], inclusive. */
export type Ranges = Array<[number, number]>;

export type Node =
  | { kind: 'char'; set: Ranges }
  | { kind: 'assert'; end: boolean } // '^' (end false) or '$' (end true), both without (?m)
  | { kind: 'group'; capture: boolean; body: Node }
  | { kind: 'alt'; branches: Node[] }
  | { kind: 'seq'; items: Node[] }
  | { kind: 'repeat'; body: Node; min: number; max: number; lazy: boolean };

export class Unsupported extends Error {}

const maxCodePoint = 0x10ffff;
const digits: Ranges = [[0x30, 0x39]];

export class Parser {
  pos = 0;
  constructor(
    private readonly src: string,
    private readonly dotAll: boolean,
  ) {}

  parseAlt(): Node {
    const branches = [this.parseSeq()];
    while (this.src[this.pos] === '|') {
      this.pos++;
      branches.push(this.parseSeq());
    }
    return branches.length === 1 ? (branches[0] as Node) : { kind: 'alt', branches };
  }

  private parseSeq(): Node {
    const items: Node[] = [];
    while (this.pos < this.src.length && this.src[this.pos] !== '|' && this.src[this.pos] !== ')') {
      const atom = this.parseAtom();
      items.push(this.parseQuantifier(atom));
    }
    return { kind: 'seq', items };
  }

  private parseAtom(): Node {
    const ch = this.src[this.pos] as string;
    switch (ch) {
      case '(': return this.parseGroup();
      case '[': return { kind: 'char', set: this.parseClass() };
      case '.':
        this.pos++;
        return { kind: 'char', set: this.dotAll ? [[0, maxCodePoint]] : [[0, 9], [11, maxCodePoint]] };
      case '^':
      case '$':
        this.pos++;
        return { kind: 'assert', end: ch === '$' };
      case '\\': return { kind: 'char', set: this.parseEscape() };
      case '*': case '+': case '?': case '{': case '}': case ']':
        throw new Unsupported(); // RE2 rejects most of these; a literal '{' or ']' is not worth the risk
      default: {
        const code = this.literal();
        return { kind: 'char', set: [[code, code]] };
      }
    }
  }

  private parseGroup(): Node {
    this.pos++;
    let capture = true;
    if (this.src.startsWith('?:', this.pos)) {
      capture = false;
      this.pos += 2;
    } else if (this.src.startsWith('?P<', this.pos) || this.src.startsWith('?<', this.pos)) {
      // Named: numbered like any capture; names resolve through re2js's table, so JS needs none.
      const close = this.src.indexOf('>', this.pos);
      if (close < 0) throw new Unsupported();
      this.pos = close + 1;
    } else if (this.src[this.pos] === '?') {
      throw new Unsupported(); // inline flags (?i) (?s) (?m) (?U) and anything else
    }
    const body = this.parseAlt();
    if (this.src[this.pos] !== ')') throw new Unsupported();
    this.pos++;
    return { kind: 'group', capture, body };
  }

  /** Escapes: `\d`, `\D` and escaped ASCII punctuation only. */
  private parseEscape(): Ranges {
    const next = this.src[this.pos + 1];
    this.pos += 2;
    if (next === 'd') return digits;
    if (next === 'D') return complement(digits);
    if (next !== undefined && /^[!-/:-@[-`{-~]$/.test(next)) {
      const code = next.charCodeAt(0);
      return [[code, code]];
    }
    throw new Unsupported(); // \s \w \b \pL \x.. \Q \A \z \n …: not (yet) proven equal
  }

  private parseClass(): Ranges {
    this.pos++;
    const negated = this.src[this.pos] === '^';
    if (negated) this.pos++;
    const set: Ranges = [];
    for (let first = true; ; first = false) {
      const ch = this.src[this.pos];
      if (ch === undefined) throw new Unsupported();
      if (ch === ']' && !first) break;
      if (ch === '[') throw new Unsupported(); // [:alpha:] and friends
      const lo = this.classAtom();
      if (Array.isArray(lo)) {
        set.push(...lo);
        continue;
      }
      if (this.src[this.pos] === '-' && this.src[this.pos + 1] !== ']' && this.src[this.pos + 1] !== undefined) {
        this.pos++;
        const hi = this.classAtom();
        if (Array.isArray(hi) || hi < lo) throw new Unsupported();
        set.push([lo, hi]);
      } else set.push([lo, lo]);
    }
    this.pos++;
    return negated ? complement(set) : set;
  }

  /** One code point of a class, or the ranges of a class escape (\d, \D). */
  private classAtom(): number | Ranges {
    if (this.src[this.pos] === '\\') {
      const next = this.src[this.pos + 1];
      const ranges = this.parseEscape();
      if (next === 'd' || next === 'D') {
        if (this.src[this.pos] === '-' && this.src[this.pos + 1] !== ']') throw new Unsupported();
        return ranges;
      }
      return (ranges[0] as [number, number])[0];
    }
    return this.literal();
  }

  /** One literal code point; a lone surrogate in the pattern is not worth proving equal. */
  private literal(): number {
    const code = this.src.codePointAt(this.pos) as number;
    if (code >= 0xd800 && code <= 0xdfff) throw new Unsupported();
    this.pos += code > 0xffff ? 2 : 1;
    return code;
  }

  private parseQuantifier(atom: Node): Node {
    let min: number;
    let max: number;
    const ch = this.src[this.pos];
    if (ch === '*') [min, max] = [0, Infinity];
    else if (ch === '+') [min, max] = [1, Infinity];
    else if (ch === '?') [min, max] = [0, 1];
    else if (ch === '{') {
      const repeat = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos));
      if (!repeat) throw new Unsupported(); // RE2 reads a malformed repeat as literal text
      min = Number(repeat[1]);
      max = repeat[2] === undefined ? min : repeat[3] === '' ? Infinity : Number(repeat[3]);
      this.pos += repeat[0].length - 1;
    } else return atom;
    this.pos++;
    const lazy = this.src[this.pos] === '?';
    if (lazy) this.pos++;
    if (atom.kind === 'assert') throw new Unsupported();
    const q = this.src[this.pos];
    if (q === '*' || q === '+' || q === '?' || q === '{') throw new Unsupported(); // RE2 rejects a** anyway
    return { kind: 'repeat', body: atom, min, max, lazy };
  }
}

function complement(set: Ranges): Ranges {
  const sorted = [...set].sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= maxCodePoint) out.push([next, maxCodePoint]);
  return out;
}

