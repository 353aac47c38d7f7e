/**
 * Text that another process or the filesystem chose (comm, cmdline, a mapped file's path, a
 * cgroup path), made safe to print on a terminal. Invariant: `printable(s)` holds no control
 * character of any kind — C0, DEL, C1, bidirectional overrides, line/paragraph separators —
 * and no lone surrogate; every such character, and the backslash itself, is written as a
 * visible escape, so the output is unambiguous and no process can move the cursor, recolour,
 * retitle or reorder the terminal of whoever runs hugespan (often root). Bytes that were not
 * UTF-8 reach us already decoded as U+FFFD and are shown as `\u{fffd}`, never as a glyph that
 * looks like text. Only the text renderers use it: JSON stays JSON-escaped, OpenMetrics label
 * values are escaped by their own rules.
 */

// C0 and DEL, C1, the Arabic letter mark, zero-width and direction marks, the line and
// paragraph separators, the bidi embeddings/overrides/isolates, the BOM and U+FFFD (what the
// addon makes of bytes that were not UTF-8), lone surrogates; and the backslash.
const UNSAFE = /[\\\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufffd]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function escape(ch: string): string {
  if (ch === '\\') return '\\\\';
  const cp = ch.codePointAt(0)!;
  return cp < 0x100 ? `\\x${cp.toString(16).padStart(2, '0')}` : `\\u{${cp.toString(16)}}`;
}

/** `s` with every unsafe character escaped (see the invariant above); safe text is returned as it is. */
export function printable(s: string): string {
  return s.replace(UNSAFE, escape);
}

// What JSON.stringify leaves raw that a terminal may still act on (it escapes C0 and lone
// surrogates itself). These characters can stand only inside JSON strings, so writing them as
// \u escapes keeps the same JSON value.
const JSON_UNSAFE = /[\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** JSON text (from JSON.stringify) with the characters above as `\uXXXX`: the same value, safe on a terminal. */
export function jsonSafe(text: string): string {
  JSON_UNSAFE.lastIndex = 0;
  return JSON_UNSAFE.test(text) ? text.replace(JSON_UNSAFE, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`) : text;
}
