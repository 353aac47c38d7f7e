/**
 * Where a command's text goes, and how often. Invariant: a rename replaces only a regular file
 * (or creates one), whole — temp file in its directory + rename — so a reader such as
 * node_exporter's textfile collector never sees half a report, and a device, FIFO, directory
 * or anything else at --output is never replaced: a character device or FIFO is written
 * directly like standard output, the rest is refused before anything is read. A watching TTY
 * is redrawn in place; any other stream is appended to.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliError, EXIT, UsageError, colorEnabled, foldWidth, terminalHeight, terminalWidth, visibleWidth } from './ui';

/** What `--output FILE` names, as far as writing a report there goes. */
export type OutputTarget =
  /** Replace (or create) the regular file at `file` by rename; `mode` is the old file's, kept. */
  | { kind: 'file'; file: string; mode?: number }
  /** Write straight into a character device or FIFO (/dev/null, a named pipe), as a stream. */
  | { kind: 'stream'; file: string };

function kindOf(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isBlockDevice()) return 'a block device (a disk: a report will not be written over it)';
  if (st.isSocket()) return 'a socket';
  return 'neither a file nor a device';
}

/**
 * Judge what is at `given` now, following a symlink to what it names. Returns where to write,
 * or the sentence saying why not. A symlink to a regular file is kept: its target is replaced.
 */
export function judgeOutput(given: string): OutputTarget | { refused: string } {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(given);
  } catch (e) {
    // Nothing there yet: a new file, if its directory is there to hold it.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      const dir = path.dirname(path.resolve(given));
      let isDir = false;
      try {
        isDir = fs.statSync(dir).isDirectory();
      } catch {
        // missing, or not ours to see: said below
      }
      return isDir ? { kind: 'file', file: given } : { refused: `--output ${given}: its directory ${dir} does not exist (or is not a directory)` };
    }
    throw new CliError(`cannot write ${given}: ${(e as Error).message}`, { cause: e, code: 'ERR_HUGESPAN_OUTPUT' });
  }
  let file = given;
  if (st.isSymbolicLink()) {
    try {
      file = fs.realpathSync(given);
      st = fs.statSync(file);
    } catch {
      return { refused: `--output ${given} is a symlink to nothing (${fs.readlinkSync(given)}); name a file, a device or a FIFO` };
    }
  }
  if (st.isFile()) return { kind: 'file', file, mode: st.mode & 0o7777 };
  if (st.isCharacterDevice() || st.isFIFO()) return { kind: 'stream', file };
  const what = kindOf(st);
  return { refused: `--output ${given} is ${file === given ? '' : `a symlink to ${file}, `}${what}; name a file, a device or a FIFO` };
}

/** judgeOutput before anything is read: a refusal is the user's to fix (exit 2). */
export function outputTarget(given: string): OutputTarget {
  if (given === '') throw new UsageError("--output wants a file name (or '-' for standard output)");
  const t = judgeOutput(given);
  if ('refused' in t) throw new UsageError(t.refused);
  return t;
}

/** Replace the regular file `file` with `text` in one step: readers see the old content or the new, never a mix. */
export function writeFileAtomic(file: string, text: string, mode?: number): void {
  const w = atomicWriter(file, mode);
  w.write(text);
  w.end();
}

/**
 * A writer whose text replaces the regular file `file` when it ends, in one step (temp file in
 * its directory + rename); a failure removes the temp file and changes nothing.
 */
function atomicWriter(file: string, mode?: number): Writer {
  // Random and O_EXCL: never follow or reuse something already at the temp name.
  // node:crypto is required here, not at the top: a report to stdout never pays for loading it.
  const { randomBytes } = require('node:crypto') as typeof import('node:crypto');
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  const fail = (e: unknown): never => {
    if (fd !== undefined) fs.closeSync(fd);
    fd = undefined;
    fs.rmSync(tmp, { force: true });
    throw new CliError(`cannot write ${file}: ${(e as Error).message}`, { cause: e, code: 'ERR_HUGESPAN_OUTPUT' });
  };
  try {
    fd = fs.openSync(tmp, 'wx', 0o644);
  } catch (e) {
    throw new CliError(`cannot write ${file}: ${(e as Error).message}`, { cause: e, code: 'ERR_HUGESPAN_OUTPUT' });
  }
  return {
    write(text) {
      try {
        fs.writeFileSync(fd!, text);
      } catch (e) {
        fail(e);
      }
    },
    abort() {
      if (fd !== undefined) fs.closeSync(fd);
      fd = undefined;
      fs.rmSync(tmp, { force: true });
    },
    end() {
      try {
        if (mode !== undefined) fs.fchmodSync(fd!, mode);
        fs.closeSync(fd!);
        fd = undefined;
        fs.renameSync(tmp, file);
      } catch (e) {
        fail(e);
      }
    },
  };
}

/** Text written in pieces, then ended: a large report is written as it is made. */
export interface Writer {
  /** A Uint8Array is UTF-8 text; it is written before write returns, so it may be reused. */
  write(text: string | Uint8Array): void;
  end(): void;
  /** Give up: a file being replaced is left as it was (what went to a stream stays written). */
  abort?(): void;
}

/**
 * A character device or FIFO, opened once (for a FIFO that waits for a reader) and kept open,
 * so a FIFO's reader sees one stream, not an end of file after each frame.
 */
function streamWriter(file: string): (text: string | Uint8Array) => void {
  let fd: number | undefined;
  return (text) => {
    try {
      if (fd === undefined) {
        // No O_CREAT: if the device went away meanwhile, fail rather than make a file there.
        fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_NOCTTY);
        const st = fs.fstatSync(fd);
        if (!st.isCharacterDevice() && !st.isFIFO()) {
          fs.closeSync(fd);
          fd = undefined;
          throw new Error('it is no longer a device or FIFO');
        }
      }
      fs.writeFileSync(fd, text);
    } catch (e) {
      throw new CliError(`cannot write ${file}: ${(e as Error).message}`, { cause: e, code: 'ERR_HUGESPAN_OUTPUT' });
    }
  };
}

export interface Destination {
  /** Where the text goes: standard output, a file replaced whole each time, or a device/FIFO. */
  readonly kind: 'stdout' | 'file' | 'stream';
  write(text: string): void;
  /**
   * One frame written in pieces: the same as write(all pieces joined), without holding them
   * (a file is still replaced whole, at end(); a watched terminal gets the frame at end()).
   */
  writer(): Writer;
  /** Frames pile up one after another (piped stdout while watching): one-line JSON suits it. */
  readonly appending: boolean;
  /** Whether the text may carry colour (stdout on a TTY, NO_COLOR unset). */
  readonly colour: boolean;
  /** Columns to lay text out in. */
  readonly width: number;
  /** Columns a table must fit in (a terminal, or COLUMNS); undefined where lines do not wrap (a pipe, a file). */
  readonly fold: number | undefined;
  /** A person reads it (stdout on a TTY): JSON is indented for them, compact for programs. */
  readonly tty: boolean;
}

/** `output`: the --output value already judged by outputTarget(); undefined for standard output. */
export function destination(options: { output?: OutputTarget; watching: boolean }): Destination {
  const { output, watching } = options;
  if (output?.kind === 'stream') {
    const write = streamWriter(output.file);
    return { kind: 'stream', write, writer: () => ({ write, end: () => undefined }), appending: watching, colour: false, width: 80, fold: undefined, tty: false };
  }
  if (output) {
    const writer = (): Writer => {
      // Judged again at every frame: under --watch the path may have become something else.
      const now = judgeOutput(output.file);
      if ('refused' in now || now.kind !== 'file') throw new CliError(`cannot write ${output.file}: it is no longer a regular file`, { code: 'ERR_HUGESPAN_OUTPUT' });
      return atomicWriter(now.file, now.mode ?? output.mode);
    };
    return {
      kind: 'file',
      write(text) {
        const w = writer();
        w.write(text);
        w.end();
      },
      writer,
      appending: false,
      colour: false,
      width: 80,
      fold: undefined,
      tty: false,
    };
  }
  const tty = process.stdout.isTTY === true;
  const width = terminalWidth();
  if (!watching || !tty) {
    const write = (text: string): void => void process.stdout.write(text);
    // A frame written in pieces goes out through the addon's writeAll, so that each piece has
    // left when write returns: memory stays one piece however slow the reader (process.stdout
    // queues what a pipe does not take at once), and a full pipe is waited for in poll(2) (a
    // 1 ms sleep per full pipe cost a 60 000-VMA report ~0.4 s into `| wc`).
    const writeBytes = (bytes: Uint8Array): void => {
      const { binding } = require('../native/binding') as typeof import('../native/binding');
      try {
        binding.writeAll(1, bytes);
      } catch (e) {
        // A reader that stops early (`hugespan report | head`) is not an error, as for process.stdout.
        if ((e as NodeJS.ErrnoException).code === 'EPIPE') process.exit(EXIT.ok);
        throw e;
      }
    };
    const writer = (): Writer => {
      // Text queued by an earlier process.stdout.write must go first: then queue behind it.
      if (process.stdout.writableLength > 0) return { write: (t) => void process.stdout.write(typeof t === 'string' ? t : Buffer.from(t)), end: () => undefined };
      return { write: (t) => writeBytes(typeof t === 'string' ? Buffer.from(t) : t), end: () => undefined };
    };
    return {
      kind: 'stdout',
      write,
      writer,
      appending: watching,
      colour: colorEnabled(),
      width,
      fold: foldWidth(),
      tty,
    };
  }
  let first = true;
  const write = (text: string): void => {
    // Home the cursor and overwrite: each line erases its own tail, then the rest of the
    // screen goes; clearing everything first would flicker at every frame. A frame taller
    // than the screen would scroll its headline away: cut it to the screen, as top does.
    const rows = terminalHeight();
    const body = (rows ? fitHeight(text, rows, terminalWidth()) : text).replace(/\n/g, '\x1b[K\n');
    process.stdout.write(`${first ? '\x1b[2J' : ''}\x1b[H${body}\x1b[J`);
    first = false;
  };
  return {
    kind: 'stdout',
    write,
    writer() {
      // A redrawn screen needs the whole frame: collect it.
      const parts: string[] = [];
      return { write: (text) => void parts.push(typeof text === 'string' ? text : Buffer.from(text).toString('utf8')), end: () => write(parts.join('')) };
    },
    appending: false,
    colour: colorEnabled(),
    width,
    fold: foldWidth(),
    tty,
  };
}

/**
 * `text` cut to what a screen of `rows` rows and `cols` columns shows without scrolling: its
 * first lines (a line wider than the screen takes several rows), then one line saying how many
 * were cut. Every line ends in a newline, so the last row stays free for the cursor.
 */
export function fitHeight(text: string, rows: number, cols: number): string {
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  const height = (line: string): number => Math.max(1, Math.ceil(visibleWidth(line) / Math.max(1, cols)));
  const total = lines.reduce((n, l) => n + height(l), 0);
  if (total <= rows - 1) return text;
  const kept: string[] = [];
  let used = 0;
  for (const line of lines) {
    if (used + height(line) > rows - 2) break;
    kept.push(line);
    used += height(line);
  }
  const cut = lines.length - kept.length;
  const note = `… ${cut} more line${cut === 1 ? '' : 's'} below the screen's ${rows} rows (a taller terminal, or --output FILE, shows them)`;
  return `${[...kept, note.length > cols ? `${note.slice(0, Math.max(1, cols - 1))}…` : note].join('\n')}\n`;
}

/**
 * `frame()` once, or — with `everySeconds` — again every so often until SIGINT (or `count`
 * frames). Returns what the last frame returned; Ctrl-C ends the loop cleanly, not the process.
 */
export async function repeat<T>(everySeconds: number | undefined, count: number | undefined, frame: () => T): Promise<T> {
  if (everySeconds === undefined) return frame();
  let stopped = false;
  let wake = (): void => undefined;
  const stop = (): void => {
    stopped = true;
    wake();
  };
  process.on('SIGINT', stop);
  try {
    let last = frame();
    for (let n = 1; !stopped && (count === undefined || n < count); n++) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, everySeconds * 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      if (!stopped) last = frame();
    }
    return last;
  } finally {
    process.off('SIGINT', stop);
  }
}
