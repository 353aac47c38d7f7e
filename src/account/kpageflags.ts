/**
 * THPs mapped by PTEs (a split huge page on the deferred-split queue, a partly unmapped one,
 * multi-size THP), which smaps and PAGEMAP_SCAN count as small pages. Only /proc/kpageflags
 * tells, through the page frame numbers in /proc/PID/pagemap, and the kernel shows those to
 * root (CAP_SYS_ADMIN) only. Invariant: where a PFN reads 0 or kpageflags cannot be opened the
 * answer is `undefined` ("not visible without root"), never 0; read-only, no memory touched.
 */
import * as fs from 'node:fs';

// A pagemap entry and a kpageflags word are 64-bit; they are read as two 32-bit halves (no
// BigInt: a BigInt per page made a 1 000-VMA report spend 60 ms here before the JIT warmed).
/** Bit 63 of a pagemap entry (bit 31 of its high half). */
const PRESENT_HI = 0x80000000;
/** PFN bits 0-54: all of the low half, bits 0-22 of the high half. */
const PFN_HI_MASK = 0x7fffff;
/** include/uapi/linux/kernel-page-flags.h: KPF_THP is bit 22, in the low half. */
const KPF_THP_LO = 1 << 22;

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

/**
 * A reader of one process's page flags. `thpBytes(ranges)`: bytes of the given ranges
 * (start, end pairs, flat; present, not PMD-mapped) that belong to a THP, i.e. pages whose
 * kpageflags carry KPF_THP; `undefined` once a PFN reads 0 (hidden: not root). Open with
 * openPageFlags, then close().
 */
export interface PageFlags {
  thpBytes(ranges: ArrayLike<number>): number | undefined;
  close(): void;
}

/** undefined where pagemap or kpageflags cannot be opened by this process. */
export function openPageFlags(pid: number | 'self', pageSize: number): PageFlags | undefined {
  let pagemap: number;
  let flags: number;
  try {
    pagemap = fs.openSync(`/proc/${pid}/pagemap`, 'r');
  } catch {
    return undefined;
  }
  try {
    flags = fs.openSync('/proc/kpageflags', 'r');
  } catch {
    fs.closeSync(pagemap);
    return undefined;
  }
  const CHUNK = 1 << 16; // pages per pagemap read: 512 KiB of entries
  const entriesBuf = { b: Buffer.allocUnsafe(4096) };
  const flagsBuf = { b: Buffer.allocUnsafe(4096) };
  // Read-ahead: a report asks for one small range per frame, VMA after VMA in address order,
  // and each pagemap read costs a page-table walk under the mm lock (~25 us, measured: 53 ms
  // for 1 000 one-page VMAs). One read of WINDOW entries serves every range that falls inside
  // it. Entries are kept only as long as this reader (one report), which reads the process
  // at one moment no more than reading it frame by frame did.
  const WINDOW = 4096; // pages: 32 KiB of entries, 16 MiB of address space on 4 KiB pages
  const win = { b: Buffer.allocUnsafe(WINDOW * 8) };
  let winFirst = -1; // first page of the window, -1: empty
  let winGot = 0; // bytes of entries the window holds
  /** The entries of `pages` pages from page `first`: a buffer, the offset in it and the bytes there. */
  const entriesOf = (first: number, pages: number): { buf: Buffer; off: number; got: number } => {
    if (pages > WINDOW) {
      const got = readAt(pagemap, entriesBuf, pages * 8, first * 8); // may grow entriesBuf.b: read first
      return { buf: entriesBuf.b, off: 0, got };
    }
    if (winFirst < 0 || first < winFirst || first + pages > winFirst + WINDOW) {
      winFirst = first;
      winGot = readAt(pagemap, win, WINDOW * 8, first * 8);
    }
    const off = (first - winFirst) * 8;
    return { buf: win.b, off, got: Math.max(0, Math.min(pages * 8, winGot - off)) };
  };
  return {
    thpBytes(ranges) {
      let bytes = 0;
      for (let i = 0; i + 1 < ranges.length; i += 2) {
        const end = ranges[i + 1];
        for (let at = ranges[i]; at < end; at += CHUNK * pageSize) {
          const pages = Math.min(CHUNK, (end - at) / pageSize);
          const { buf: entries, off, got } = entriesOf(at / pageSize, pages);
          // Consecutive PFNs are read from kpageflags in one go: a THP's pages are contiguous.
          let runStart = 0;
          let runLen = 0;
          const flush = (): void => {
            if (runLen === 0) return;
            const n = readAt(flags, flagsBuf, runLen * 8, runStart * 8);
            for (let k = 0; k + 8 <= n; k += 8) if (flagsBuf.b.readUInt32LE(k) & KPF_THP_LO) bytes += pageSize;
            runLen = 0;
          };
          for (let k = off; k + 8 <= off + got; k += 8) {
            const hi = entries.readUInt32LE(k + 4);
            if (!(hi & PRESENT_HI)) continue;
            // PFNs stay below 2^53 (55 bits of pagemap, but no machine has 2^41 pages of RAM).
            const pfn = (hi & PFN_HI_MASK) * 2 ** 32 + entries.readUInt32LE(k);
            if (pfn === 0) return undefined; // PFNs hidden: not root
            if (runLen > 0 && pfn === runStart + runLen) runLen++;
            else {
              flush();
              runStart = pfn;
              runLen = 1;
            }
          }
          flush();
        }
      }
      return bytes;
    },
    close() {
      fs.closeSync(pagemap);
      fs.closeSync(flags);
    },
  };
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
