/**
 * Where a command's text goes, and how often. Invariant: a file is only ever replaced whole
 * (temp file in its directory + rename), so a reader such as node_exporter's textfile
 * collector never sees half a report; a watching TTY is redrawn in place, anything else appended.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliError, colorEnabled, terminalWidth } from './ui';

/** Replace `file` with `text` in one step: readers see the old content or the new, never a mix. */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, text, { mode: 0o644 });
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new CliError(`cannot write ${file}: ${(e as Error).message}`);
  }
}

export interface Destination {
  write(text: string): void;
  /** Frames pile up one after another (piped stdout while watching): one-line JSON suits it. */
  readonly appending: boolean;
  /** Whether the text may carry colour (stdout on a TTY, NO_COLOR unset). */
  readonly colour: boolean;
  /** Columns to lay text out in. */
  readonly width: number;
}

export function destination(options: { output?: string; watching: boolean }): Destination {
  const { output, watching } = options;
  if (output !== undefined) return { write: (text) => writeFileAtomic(output, text), appending: false, colour: false, width: 80 };
  const tty = process.stdout.isTTY === true;
  const width = terminalWidth();
  if (!watching || !tty) return { write: (text) => void process.stdout.write(text), appending: watching, colour: colorEnabled(), width };
  let first = true;
  return {
    write(text) {
      // Home the cursor and overwrite: each line erases its own tail, then the rest of the
      // screen goes; clearing everything first would flicker at every frame.
      const body = text.replace(/\n/g, '\x1b[K\n');
      process.stdout.write(`${first ? '\x1b[2J' : ''}\x1b[H${body}\x1b[J`);
      first = false;
    },
    appending: false,
    colour: colorEnabled(),
    width,
  };
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
