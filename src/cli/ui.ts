/**
 * The terminal side of every command: arguments in, colour, tables, sizes and errors out.
 * Invariant: nothing here knows about memory; colour and redrawing happen only where a person
 * is watching (a TTY, NO_COLOR unset), so piped output is plain, stable text.
 */
import { readFileSync } from 'node:fs';
import { jsonSafe, printable } from './printable';
import { inspect, parseArgs, ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'];

/**
 * The exit codes every command returns. `unmeasurable`: --min-coverage was asked to judge a
 * coverage that cannot exist (THP off for the process or host, no THP in the kernel, no
 * anonymous memory), so it neither passed nor failed.
 */
export const EXIT = { ok: 0, error: 1, usage: 2, belowMinCoverage: 3, unmeasurable: 4 } as const;

/** The user asked for something that cannot be done as asked: exit 2, with a usage hint. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly code = 'ERR_HUGESPAN_USAGE';
}

/** A failure the message fully explains (no such pid, not permitted …): exit 1, no stack. */
export class CliError extends Error {
  override name = 'CliError';
  readonly code: string;
  constructor(message: string, options: { cause?: unknown; code?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = options.code ?? 'ERR_HUGESPAN_CLI';
  }
}

// --- arguments ---

/**
 * node:util parseArgs with the CLI's rules (options only, no positionals) whose complaints
 * become UsageErrors. An option that takes a value may be given once: taking the last of two
 * would hide a mistake (`--pid 1 --pid 2` is not one process).
 */
export function parseCommandArgs<const O extends Options>(argv: string[], options: O): Values<O> {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false, tokens: true });
  } catch (e) {
    // Node explains in up to three lines; the first two say it, the third is a workaround.
    if (String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) throw new UsageError((e as Error).message.split('\n').slice(0, 2).join(' '));
    throw e;
  }
  const given = new Map<string, string>();
  for (const t of parsed.tokens ?? []) {
    if (t.kind !== 'option' || options[t.name]?.type !== 'string') continue;
    const before = given.get(t.name);
    if (before !== undefined) throw new UsageError(`--${t.name} given twice ('${before}', then '${t.value}'): give it once`);
    given.set(t.name, t.value ?? '');
  }
  return parsed.values as Values<O>;
}

/** PID_MAX_LIMIT on 64-bit Linux: the ceiling when /proc/sys/kernel/pid_max cannot be read. */
const PID_MAX_LIMIT = 4194304;

/** The host's pid_max: every pid is below it. */
export function pidMax(): number {
  try {
    const n = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
    return Number.isSafeInteger(n) && n > 1 ? n : PID_MAX_LIMIT;
  } catch {
    return PID_MAX_LIMIT;
  }
}

/**
 * A pid as the kernel writes one: decimal digits, 1 to pid_max − 1. Number() alone would take
 * '0x10', '1e1' or ' 7 ' as pids, and a huge one would reach the addon as an internal range error.
 */
export function parsePid(text: string, flag = '--pid'): number {
  const max = pidMax() - 1;
  const n = /^[0-9]{1,16}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= max)) throw new UsageError(`${flag} wants a process id, decimal from 1 to ${max} (pid_max is ${max + 1}), not '${text}'`);
  return n;
}

/** A number option checked against its range; `integer` refuses fractions. */
export function parseNumber(text: string, flag: string, range: { min?: number; max?: number; integer?: boolean } = {}): number {
  const n = text.trim() === '' ? NaN : Number(text);
  const { min = -Infinity, max = Infinity, integer = false } = range;
  if (!Number.isFinite(n) || n < min || n > max || (integer && !Number.isSafeInteger(n))) {
    const kind = integer ? 'an integer' : 'a number';
    const bounds = min > -Infinity && max < Infinity ? ` from ${min} to ${max}` : min > -Infinity ? ` ≥ ${min}` : '';
    throw new UsageError(`${flag} wants ${kind}${bounds}, not '${text}'`);
  }
  return n;
}

const UNITS: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 };

/** "4M", "2MiB", "1G", "512k", "4096" → bytes. Units are binary (K = 1024) however spelled. */
export function parseBytes(text: string, flag: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  const bytes = m ? Number(m[1]) * UNITS[m[2].toLowerCase()] : NaN;
  if (!Number.isSafeInteger(Math.round(bytes)) || bytes < 0) throw new UsageError(`${flag} wants a size such as 4M, 2MiB, 1G or 65536, not '${text}'`);
  return Math.round(bytes);
}

// --- numbers as text ---

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Binary units, one decimal above bytes: "0 B", "4.0 KiB", "32.0 MiB", "1.5 GiB". */
export function formatBytes(n: number): string {
  let unit = 0;
  let v = Math.abs(n);
  while (v >= 1024 && unit < BYTE_UNITS.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${n < 0 ? '-' : ''}${unit === 0 ? String(v) : v.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/** A ratio in 0..1 as "87.5%"; undefined (nothing to measure) as "-". */
export function formatPercent(ratio: number | undefined): string {
  return ratio === undefined || !Number.isFinite(ratio) ? '-' : `${(ratio * 100).toFixed(1)}%`;
}

/** Hex as smaps writes addresses (no 0x). */
export function hex(n: number): string {
  return n.toString(16);
}

// --- colour ---

/**
 * Whether to colour `stream`: FORCE_COLOR (other than 0/false) forces it; otherwise only on a
 * TTY with NO_COLOR unset or empty (https://no-color.org).
 */
export function colorEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  const force = process.env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  if (process.env.NO_COLOR) return false;
  return stream.isTTY === true;
}

export interface Palette {
  readonly enabled: boolean;
  bold(s: string): string;
  dim(s: string): string;
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  /**
   * Any SGR foreground colour (30-37, 90-97): for a fixed set of categories that outnumbers the
   * named ones (map's small-frame reasons).
   */
  fg(code: number): (s: string) => string;
}

function sgr(open: number, close: number): (s: string) => string {
  return (s) => `\x1b[${open}m${s}\x1b[${close}m`;
}

const plain = (s: string): string => s;

/** Colour functions for `stream`; each is the identity where colour is off. */
/**
 * A JSON document for stdout: indented for a person (a terminal, or --pretty), one compact line
 * for a program (a pipe or a file), which is also faster to write and to parse.
 */
export function jsonText(value: unknown, pretty = false): string {
  return `${jsonSafe(JSON.stringify(value, null, pretty || process.stdout.isTTY === true ? 2 : undefined))}\n`;
}

/** --pretty shapes JSON only: given without --json it is a usage error, not ignored. */
export function checkPretty(pretty: boolean | undefined, json: boolean | undefined): void {
  if (pretty && !json) throw new UsageError('--pretty only means something with --json');
}

export function palette(enabled: boolean | NodeJS.WriteStream = process.stdout): Palette {
  const on = typeof enabled === 'boolean' ? enabled : colorEnabled(enabled);
  return on
    ? { enabled: on, bold: sgr(1, 22), dim: sgr(2, 22), red: sgr(31, 39), green: sgr(32, 39), yellow: sgr(33, 39), cyan: sgr(36, 39), fg: (code) => sgr(code, 39) }
    : { enabled: on, bold: plain, dim: plain, red: plain, green: plain, yellow: plain, cyan: plain, fg: () => plain };
}

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

/** Columns `s` takes on a terminal: escape sequences take none (every glyph used here takes one). */
export function visibleWidth(s: string): number {
  return [...s.replace(ANSI, '')].length;
}

/** Where text folds: COLUMNS when set (as ls and ps take it), else the terminal's width on a TTY, else 80. */
export function terminalWidth(stream: NodeJS.WriteStream = process.stdout): number {
  const env = Number(process.env.COLUMNS);
  if (Number.isSafeInteger(env) && env > 0) return env;
  return stream.isTTY && stream.columns ? stream.columns : 80;
}

/** Where a table must fold: COLUMNS when set, else the terminal's width on a TTY; undefined (never) for a pipe or a file, which do not wrap. */
export function foldWidth(stream: NodeJS.WriteStream = process.stdout): number | undefined {
  const env = Number(process.env.COLUMNS);
  if (Number.isSafeInteger(env) && env > 0) return env;
  return stream.isTTY && stream.columns ? stream.columns : undefined;
}

/** Rows the text may take: LINES when set, else the terminal's height on a TTY; undefined elsewhere (no limit). */
export function terminalHeight(stream: NodeJS.WriteStream = process.stdout): number | undefined {
  const env = Number(process.env.LINES);
  if (Number.isSafeInteger(env) && env > 0) return env;
  return stream.isTTY && stream.rows ? stream.rows : undefined;
}

const ANSI_OR_CHAR = /\x1b\[[0-9;?]*[A-Za-z]|[\s\S]/gu;

/**
 * `text` broken into lines of at most `width` columns: at spaces where it can, inside a word
 * longer than a line where it must. Colour codes stay whole and take no room.
 */
export function foldText(text: string, width: number): string[] {
  const room = Math.max(1, width);
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    let rest = word;
    if (line && visibleWidth(line) + 1 + visibleWidth(rest) <= room) {
      line = `${line} ${rest}`;
      continue;
    }
    if (line) lines.push(line);
    line = '';
    while (visibleWidth(rest) > room) {
      let piece = '';
      let used = 0;
      let cut = 0;
      for (const m of rest.matchAll(ANSI_OR_CHAR)) {
        const w = m[0].length > 2 && m[0].startsWith('\x1b[') ? 0 : 1;
        if (used + w > room) break;
        piece += m[0];
        used += w;
        cut = m.index! + m[0].length;
      }
      lines.push(piece);
      rest = rest.slice(cut);
    }
    line = rest;
  }
  if (line || !lines.length) lines.push(line);
  return lines;
}

/** "1 VMA", "3 VMAs", "1 process", "2 processes": `n` and the word in its number. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

// --- tables ---

export interface Column {
  title: string;
  /** Numbers go right so their digits line up. */
  align?: 'left' | 'right';
}

/**
 * Aligned columns separated by two spaces under a header row styled by `header` (none when
 * `header` is false); the last column is not padded, so no line ends in spaces. Given a
 * `width`, no line is longer: the last column folds under itself when the others leave it
 * room, and otherwise each row becomes a block — its first cell, then the other cells under
 * it as "title value", folded — so a narrow terminal never wraps a table into noise.
 */
export function renderTable(columns: Column[], rows: string[][], options: { header?: ((s: string) => string) | false; indent?: number; width?: number } = {}): string {
  const all = options.header === false ? rows : [columns.map((c) => c.title), ...rows];
  const widths = columns.map((_, i) => Math.max(0, ...all.map((r) => visibleWidth(r[i] ?? ''))));
  const indent = options.indent ?? 0;
  const pad = ' '.repeat(indent);
  const cellsOf = (cells: string[], style: (s: string) => string, n = cells.length): string[] =>
    cells.slice(0, n).map((cell, i) => {
      const room = ' '.repeat(widths[i] - visibleWidth(cell));
      return columns[i].align === 'right' ? room + style(cell) : style(cell) + room;
    });
  const line = (cells: string[], style: (s: string) => string = plain): string => (pad + cellsOf(cells, style).join('  ')).trimEnd();
  const styleOf = (i: number): ((s: string) => string) => (i === 0 && options.header ? options.header : plain);
  const width = options.width ?? Infinity;
  const full = indent + widths.reduce((a, b) => a + b, 0) + 2 * (columns.length - 1);
  if (full <= width) return all.map((r, i) => line(r, styleOf(i))).join('\n');

  // The last column folds under itself: the others keep their places.
  const last = columns.length - 1;
  const fixed = indent + widths.slice(0, last).reduce((a, b) => a + b, 0) + 2 * last;
  if (last > 0 && width - fixed >= 16) {
    return all
      .map((r, i) => {
        const head = pad + cellsOf(r, styleOf(i), last).join('  ') + '  ';
        const folded = foldText(styleOf(i)(r[last] ?? ''), width - fixed);
        return folded.map((piece, k) => `${k === 0 ? head : ' '.repeat(fixed)}${piece}`.trimEnd()).join('\n');
      })
      .join('\n');
  }
  // Too narrow for columns: a block per row, the header's titles naming the values.
  const inner = Math.max(1, width - indent - 2);
  const blocks: string[] = [];
  for (const r of rows) {
    const items = r.slice(1).flatMap((cell, k) => {
      if (!visibleWidth(cell)) return [];
      const title = columns[k + 1].title;
      return [title ? `${title} ${cell}` : cell];
    });
    // The first cell's own leading spaces (a tree's depth) indent its block.
    const lead = /^ */.exec(r[0] ?? '')![0].length;
    const head = pad + ' '.repeat(lead);
    const room = Math.max(1, inner - lead);
    const lines = foldText((r[0] ?? '').slice(lead), width - indent - lead).map((l) => head + l);
    for (const item of wrapItems(items.flatMap((it) => (visibleWidth(it) > room ? foldText(it, room) : [it])), room)) lines.push(`${head}  ${item}`);
    blocks.push(lines.map((l) => l.trimEnd()).join('\n'));
  }
  return blocks.join('\n');
}

/**
 * Every line of `text` no wider than `width`: a wider one folds at spaces, its continuation
 * lines indented as far as its text starts (past a "label    " column, or its own indent).
 * For what is not a table (headlines, labelled lines); tables fold themselves (renderTable).
 */
export function foldLines(text: string, width: number | undefined): string {
  if (width === undefined) return text;
  return text
    .split('\n')
    .flatMap((line) => {
      if (visibleWidth(line) <= width) return [line];
      const plainLine = line.replace(ANSI, '');
      const at = /^(?:\S+ {2,}| +)/.exec(plainLine)?.[0].length ?? 0;
      const indent = at > 0 && at <= width / 2 ? at : 0;
      const pieces = foldText(line, width);
      if (pieces.length <= 1 || !indent) return pieces;
      return [pieces[0], ...foldText(pieces.slice(1).join(' '), width - indent).map((p) => ' '.repeat(indent) + p)];
    })
    .join('\n');
}

/** Items joined by two spaces, broken into lines of at most `width` columns. */
export function wrapItems(items: string[], width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const item of items) {
    if (line && visibleWidth(line) + 2 + visibleWidth(item) > width) {
      lines.push(line);
      line = '';
    }
    line = line ? `${line}  ${item}` : item;
  }
  if (line) lines.push(line);
  return lines;
}

// --- progress ---

export interface Progress {
  /** `done` of `total` units finished; `note` is shown after the bar. */
  update(done: number, note?: string): void;
  /** Erase the bar (the line is left empty for what follows). */
  finish(): void;
}

const NO_PROGRESS: Progress = { update: () => undefined, finish: () => undefined };

/**
 * A one-line bar on stderr, redrawn at most every 50 ms, only when stderr is a TTY: piped or
 * logged runs get no carriage-return noise.
 */
export function progressBar(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return NO_PROGRESS;
  const width = Math.max(10, Math.min(40, terminalWidth(stream) - label.length - 20));
  let last = 0;
  return {
    update(done, note = '') {
      const now = Date.now();
      if (now - last < 50 && done < total) return;
      last = now;
      const f = total > 0 ? Math.min(1, done / total) : 1;
      const full = Math.round(f * width);
      stream.write(`\r${label} ${'█'.repeat(full)}${'░'.repeat(width - full)} ${String(Math.round(f * 100)).padStart(3)}% ${note}\x1b[K`);
    },
    finish() {
      stream.write('\r\x1b[K');
    },
  };
}

// --- errors ---

/**
 * The one place an error becomes an exit code and a line on stderr: `hugespan: message`.
 * A usage error adds one hint line (`hint`, e.g. "Try 'hugespan report --help'."), never the
 * whole help. The stack appears only with --debug, and only for errors that are not already
 * the whole story.
 */
export function reportFailure(e: unknown, options: { debug?: boolean; hint?: string } = {}): number {
  const err = e instanceof Error ? e : new Error(String(e));
  // A message may quote a path or a name another process chose: escaped line by line.
  const message = err.message.replace(/^hugespan: /, '').split('\n').map(printable).join('\n');
  process.stderr.write(`hugespan: ${message}\n`);
  if (err instanceof UsageError) {
    process.stderr.write(`${options.hint ?? "Try 'hugespan --help'."}\n`);
    return EXIT.usage;
  }
  // inspect() shows the cause too: the addon's own error behind a sentence such as "no process".
  if (options.debug) process.stderr.write(`${inspect(err)}\n`);
  return EXIT.error;
}
