/**
 * Reading a program's files (its binary, the libraries it maps) for the facts in elf.ts.
 * Invariant: only a regular file is read, and only the size fstat gives for the open file, at
 * most `max` bytes: a path a process maps may be a device (`/dev/zero`, endless), a FIFO (blocks)
 * or a file that grows while read, and none of them may hang or exhaust the reader.
 */
import * as fs from 'node:fs';

/** The largest program file read for its facts (a Go binary with its debug info fits). */
export const PROGRAM_FILE_MAX = 512 * 1024 * 1024;

/** The file's bytes, or undefined (unreadable, not a regular file, over `max`). */
export function readProgramFile(file: string, max = PROGRAM_FILE_MAX): Buffer | undefined {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would wait for a writer.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch {
    return undefined;
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > max) return undefined;
    const b = Buffer.allocUnsafe(st.size);
    let got = 0;
    while (got < b.length) {
      const n = fs.readSync(fd, b, got, b.length - got, got);
      if (n === 0) break; // truncated while read: what was there
      got += n;
    }
    return b.subarray(0, got);
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}
