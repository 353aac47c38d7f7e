/**
 * THPs mapped by PTEs (a split huge page on the deferred-split queue, a partly unmapped one,
 * multi-size THP), which smaps and PAGEMAP_SCAN count as small pages. Only /proc/kpageflags
 * tells, through the page frame numbers in /proc/PID/pagemap, and the kernel shows those to
 * root (CAP_SYS_ADMIN) only. Invariant: where a PFN reads 0 or kpageflags cannot be opened the
 * answer is `undefined` ("not visible without root"), never 0; read-only, no memory touched.
 */
import * as fs from 'node:fs';
import { binding } from '../native/binding';

/**
 * The pages of `ranges` (start, end pairs, page-aligned, ascending) whose frame is a THP, as
 * start, end pairs in address order; `undefined` where the kernel hides frame numbers (not
 * root) or the process cannot be read. Present pages only: a caller passes the small-page runs
 * of a PAGEMAP_SCAN walk (PMD-mapped pages are counted by smaps already) or whole VMAs.
 * One addon call, whatever the number of ranges (native/pageflags.cc).
 */
export function thpRanges(pid: number | 'self', ranges: ArrayLike<number>): Float64Array | undefined {
  try {
    return binding.thpRanges(pid, ranges instanceof Float64Array ? ranges : Float64Array.from(ranges)) ?? undefined;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw e;
  }
}

/** Bytes of the pairs in `a` (ascending) that `b` (ascending) also covers; `from` is a cursor into b, returned advanced. */
export function overlapBytes(a: ArrayLike<number>, b: Float64Array, from: number): { bytes: number; next: number } {
  let bytes = 0;
  let k = from;
  for (let i = 0; i + 1 < a.length; i += 2) {
    const s = a[i];
    const e = a[i + 1];
    while (k < b.length && b[k + 1] <= s) k += 2;
    for (let j = k; j < b.length && b[j] < e; j += 2) bytes += Math.min(e, b[j + 1]) - Math.max(s, b[j]);
  }
  return { bytes, next: k };
}

/** Read `bytes` at `position` into the reused `buf` (grown when short); the bytes read. */
function readAt(fd: number, buf: { b: Buffer }, bytes: number, position: number): number {
  if (buf.b.length < bytes) buf.b = Buffer.allocUnsafe(Math.max(bytes, 2 * buf.b.length));
  let got = 0;
  while (got < bytes) {
    const n = fs.readSync(fd, buf.b, got, bytes - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

/** Bit 62 of a pagemap entry (swapped), bit 30 of its high half. */
const SWAPPED_HI = 0x40000000;

/**
 * Swapped-out pages of [start, end) by /proc/PID/pagemap bit 62, which the kernel shows without
 * root; undefined where the file cannot be read.
 */
export function swappedPages(pid: number | 'self', start: number, end: number, pageSize: number): number | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(`/proc/${pid}/pagemap`, 'r');
    const buf = { b: Buffer.allocUnsafe(0) };
    const got = readAt(fd, buf, ((end - start) / pageSize) * 8, (start / pageSize) * 8);
    let n = 0;
    for (let k = 0; k + 8 <= got; k += 8) if (buf.b.readUInt32LE(k + 4) & SWAPPED_HI) n++;
    return n;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
