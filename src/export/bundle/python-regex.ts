// builtin:regex's pattern, a JavaScript RegExp without flags, rewritten for Python's re so that
// re.search(pattern, units, re.ASCII) answers as RegExp.test(s) did in the studio, where `units` is s
// with each character beyond U+FFFF split into its surrogate pair (JavaScript matches UTF-16 units;
// the pattern is written unit by unit too). Under re.ASCII, \d, \w and \b are ASCII in both; what still
// differs is rewritten (\s, '.', '$', named groups, identity escapes, Annex B literals such as a lone
// '{'), and JavaScript syntax with no Python spelling is refused with the reason (RegexPortError), so
// a bundle never carries a silently different reward.
import { ExportInputError } from '../model-tensors';

export class RegexPortError extends ExportInputError {
  override name = 'RegexPortError';
}

/** JavaScript's \s: WhiteSpace (with every Unicode Zs) and LineTerminator, as the body of a Python class. */
export const JS_SPACE_CLASS = String.raw`\t\n\v\f\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff`;
/** What JavaScript's '.' does not match without the s flag. */
const JS_LINE_END_CLASS = String.raw`\n\r\u2028\u2029`;

export interface PythonRegex {
  /** The pattern for re.compile(pattern, re.ASCII). */
  pattern: string;
  /** Where Python may still answer differently (written beside the pattern in the script and README). */
  notes: string[];
}

const hex = (code: number, width: number) => code.toString(16).padStart(width, '0');

/** One UTF-16 unit as Python spells it literally, outside a class or inside one. */
function unit(code: number, inClass: boolean): string {
  const ch = String.fromCharCode(code);
  if (/[A-Za-z0-9]/.test(ch)) return ch;
  if (code >= 0x20 && code < 0x7f) return inClass || /[\\^$.|?*+()[\]{}]/.test(ch) ? `\\${ch}` : ch;
  if (code < 0xa0) return `\\x${hex(code, 2)}`;
  if (code === 0x2028 || code === 0x2029 || (code >= 0xd800 && code <= 0xdfff)) return `\\u${hex(code, 4)}`;
  return ch;
}

/** Capturing groups of a pattern, and whether any is named (\k means a backreference only then). */
function groupsOf(js: string): { count: number; named: boolean } {
  let count = 0;
  let named = false;
  let inClass = false;
  for (let i = 0; i < js.length; i++) {
    const c = js[i];
    if (c === '\\') i++;
    else if (inClass) inClass = c !== ']';
    else if (c === '[') inClass = true;
    else if (c === '(' && js[i + 1] !== '?') count++;
    else if (c === '(' && js.startsWith('?<', i + 1) && js[i + 3] !== '=' && js[i + 3] !== '!') {
      count++;
      named = true;
    }
  }
  return { count, named };
}

export function pythonRegex(js: string): PythonRegex {
  new RegExp(js); // a pattern the studio could not compile never trained a run
  const refuse = (why: string): never => {
    throw new RegexPortError(`builtin:regex=${js}: ${why}; TRL needs the reward in Python: choose a pattern without it, or pass the reward as a .mjs module and port it yourself`);
  };
  const groups = groupsOf(js);
  const notes = new Set<string>();
  const out: string[] = [];
  let i = 0;

  /** \uHHHH or \xHH at i (the backslash), or null when the letter stands for itself (Annex B). */
  const hexEscape = (): number | null => {
    const width = js[i + 1] === 'x' ? 2 : 4;
    const digits = js.slice(i + 2, i + 2 + width);
    return digits.length === width && /^[0-9a-fA-F]+$/.test(digits) ? parseInt(digits, 16) : null;
  };

  /** A class escape (i at the backslash) as a Python class item: a unit, or a set's spelling. */
  const classEscape = (): { code: number } | { set: string } => {
    const d = js[i + 1];
    const simple: Record<string, number> = { b: 8, f: 12, n: 10, r: 13, t: 9, v: 11 };
    i += 2;
    if ('dDwW'.includes(d)) return { set: `\\${d}` };
    if (d === 's') return { set: JS_SPACE_CLASS };
    if (d === 'S') return refuse('\\S inside [...] has no Python spelling with JavaScript\'s whitespace');
    if (d in simple) return { code: simple[d] };
    if (d === '0' && !/[0-9]/.test(js[i] ?? '')) return { code: 0 };
    if (/[0-9]/.test(d)) return refuse(`\\${d} inside [...] is an octal escape in JavaScript; write \\xHH`);
    if (d === 'c') {
      if (/[A-Za-z]/.test(js[i] ?? '')) return { code: js.charCodeAt(i++) % 32 };
      return refuse('\\c without a letter');
    }
    if (d === 'x' || d === 'u') {
      i -= 2;
      const code = hexEscape();
      i += code === null ? 2 : d === 'x' ? 4 : 6;
      return { code: code ?? d.charCodeAt(0) };
    }
    return { code: d.charCodeAt(0) }; // identity escape: \- \] \. ..., and Annex B letters (\a is "a", \B is "B")
  };

  const klass = () => {
    i++; // [
    const negate = js[i] === '^';
    if (negate) i++;
    if (js[i] === ']') {
      i++;
      out.push(negate ? '(?s:.)' : '(?!)'); // JavaScript's [^] and []
      return;
    }
    type Atom = { code: number; dash?: true } | { set: string };
    const atoms: Atom[] = [];
    while (js[i] !== ']') {
      if (js[i] === '\\') atoms.push(classEscape());
      else {
        const code = js.charCodeAt(i);
        atoms.push(js[i] === '-' ? { code, dash: true } : { code });
        i++;
      }
    }
    i++; // ]
    const item = (a: Atom) => ('set' in a ? a.set : unit(a.code, true));
    let body = '';
    for (let k = 0; k < atoms.length; ) {
      const [a, dash, b] = [atoms[k], atoms[k + 1], atoms[k + 2]];
      if (dash && 'dash' in dash && b) {
        // a-b: a range of two units; with a class escape on either side Annex B reads all three literally.
        body += 'code' in a && 'code' in b ? `${item(a)}-${item(b)}` : `${item(a)}\\-${item(b)}`;
        k += 3;
      } else {
        body += item(a);
        k += 1;
      }
    }
    out.push(`[${negate ? '^' : ''}${body}]`);
  };

  const escape = () => {
    const d = js[i + 1];
    if ('dDwWbB'.includes(d)) {
      out.push(`\\${d}`);
      i += 2;
    } else if (d === 's' || d === 'S') {
      out.push(`[${d === 'S' ? '^' : ''}${JS_SPACE_CLASS}]`);
      i += 2;
    } else if ('fnrtv'.includes(d)) {
      out.push(`\\${d}`);
      i += 2;
    } else if (d === '0') {
      if (/[0-9]/.test(js[i + 2] ?? '')) refuse(`\\0${js[i + 2]} is an octal escape in JavaScript; write \\xHH`);
      out.push('\\x00');
      i += 2;
    } else if (/[1-9]/.test(d)) {
      const n = /^\d+/.exec(js.slice(i + 1))![0];
      if (Number(n) > groups.count) refuse(`\\${n} names no group, so JavaScript reads it as an octal escape or a digit; write \\xHH`);
      notes.add('a backreference to a group that has not matched matches the empty string in JavaScript and fails in Python');
      out.push(`(?:\\${n})`);
      i += 1 + n.length;
    } else if (d === 'c') {
      if (!/[A-Za-z]/.test(js[i + 2] ?? '')) refuse('\\c without a letter is a literal backslash in JavaScript');
      out.push(unit(js.charCodeAt(i + 2) % 32, false));
      i += 3;
    } else if (d === 'x' || d === 'u') {
      const code = hexEscape();
      out.push(code === null ? d : unit(code, false));
      i += code === null ? 2 : d === 'x' ? 4 : 6;
    } else if (d === 'k' && groups.named) {
      const m = /^\\k<([^>]*)>/.exec(js.slice(i))!;
      out.push(`(?P=${m[1]})`);
      notes.add('a backreference to a group that has not matched matches the empty string in JavaScript and fails in Python');
      i += m[0].length;
    } else if (/[A-Za-z]/.test(d)) {
      out.push(d); // Annex B identity escape: \a, \e, \A, \Z ... stand for the letter in JavaScript, not for Python's escapes
      i += 2;
    } else {
      out.push(unit(js.charCodeAt(i + 1), false)); // \. \/ \- ...: the character itself
      i += 2;
    }
  };

  const group = () => {
    const m = /^\(\?<([^>=!][^>]*)>/.exec(js.slice(i));
    if (m) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(m[1])) refuse(`the group name "${m[1]}" is not a Python identifier`);
      out.push(`(?P<${m[1]}>`);
      i += m[0].length;
      return;
    }
    const head = ['(?<=', '(?<!', '(?:', '(?=', '(?!'].find((h) => js.startsWith(h, i));
    if (head?.startsWith('(?<')) notes.add('Python\'s re takes only a fixed-width lookbehind: the script stops at import (re.error) on another');
    if (!head && js[i + 1] === '?') refuse('inline modifiers such as (?i:...) are refused: Python reads their case folding and ^/$ differently');
    out.push(head ?? '(');
    i += (head ?? '(').length;
  };

  while (i < js.length) {
    const c = js[i];
    if (c === '\\') escape();
    else if (c === '[') klass();
    else if (c === '(') group();
    else if (c === '.') {
      out.push(`[^${JS_LINE_END_CLASS}]`);
      i++;
    } else if (c === '$') {
      out.push('\\Z'); // Python's $ also matches before a final newline
      i++;
    } else if (c === '{') {
      const q = /^\{\d+(,\d*)?\}/.exec(js.slice(i));
      out.push(q ? q[0] : '\\{'); // Annex B: a brace that is no quantifier is a literal (Python reads {,n} as one)
      i += q ? q[0].length : 1;
    } else if ('^|*+?)'.includes(c)) {
      out.push(c);
      i++;
    } else out.push(unit(js.charCodeAt(i++), false)); // surrogates as \uXXXX: the units are matched one by one
  }
  return { pattern: out.join(''), notes: [...notes] };
}

/** A Python string literal of `s`: raw when that reads the same (patterns), else JSON's escapes, which Python shares. */
export function pythonString(s: string): string {
  const trailing = /\\*$/.exec(s)![0].length;
  const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s); // UTF-8 cannot hold one
  if (!/["\u0000-\u001f\u007f\u2028\u2029]/.test(s) && !loneSurrogate && trailing % 2 === 0) return `r"${s}"`;
  return JSON.stringify(s);
}
