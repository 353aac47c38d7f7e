/**
 * THPs mapped by PTEs (a split huge page on the deferred-split queue, a partly unmapped one,
 * multi-size THP), which smaps and PAGEMAP_SCAN count as small pages. Only /proc/kpageflags
 * tells, through the page frame numbers in /proc/PID/pagemap, and the kernel shows those to
 * root (CAP_SYS_ADMIN) only. Invariant: where a PFN reads 0 or kpageflags cannot be opened the
 * answer is `undefined` ("not visible without root"), never 0; read-only, no memory touched.
 */
import * as fs from 'node:fs';

const PRESENT = 1n << 63n;
const SWAPPED = 1n << 62n;
const PFN_MASK = (1n << 55n) - 1n;
/** include/uapi/linux/kernel-page-flags.h */
const KPF_THP = 1n << 22n;

function readAt(fd: number, bytes: number, position: number): Buffer {
  const buf = Buffer.allocUnsafe(bytes);
  let got = 0;
  while (got < bytes) {
    const n = fs.readSync(fd, buf, got, bytes - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/**
 * A reader of one process's page flags. `thpBytes(ranges)`: bytes of the given ranges
 * (present, not PMD-mapped) that belong to a THP, i.e. pages whose kpageflags carry KPF_THP;
 * `undefined` once a PFN reads 0 (hidden: not root). Open with openPageFlags, then close().
 */
export interface PageFlags {
  thpBytes(ranges: readonly { start: number; end: number }[]): number | undefined;
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
  return {
    thpBytes(ranges) {
      let bytes = 0;
      for (const r of ranges) {
        for (let at = r.start; at < r.end; at += CHUNK * pageSize) {
          const pages = Math.min(CHUNK, (r.end - at) / pageSize);
          const entries = readAt(pagemap, pages * 8, (at / pageSize) * 8);
          // Consecutive PFNs are read from kpageflags in one go: a THP's pages are contiguous.
          let runStart = 0n;
          let runLen = 0;
          const flush = (): void => {
            if (runLen === 0) return;
            const f = readAt(flags, runLen * 8, Number(runStart) * 8);
            for (let k = 0; k + 8 <= f.length; k += 8) if (f.readBigUInt64LE(k) & KPF_THP) bytes += pageSize;
            runLen = 0;
          };
          for (let k = 0; k + 8 <= entries.length; k += 8) {
            const e = entries.readBigUInt64LE(k);
            if (!(e & PRESENT)) continue;
            const pfn = e & PFN_MASK;
            if (pfn === 0n) return undefined; // PFNs hidden: not root
            if (runLen > 0 && pfn === runStart + BigInt(runLen)) runLen++;
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

/**
 * Swapped-out pages of [start, end) by /proc/PID/pagemap bit 62, which the kernel shows without
 * root; undefined where the file cannot be read.
 */
export function swappedPages(pid: number | 'self', start: number, end: number, pageSize: number): number | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(`/proc/${pid}/pagemap`, 'r');
    const entries = readAt(fd, ((end - start) / pageSize) * 8, (start / pageSize) * 8);
    let n = 0;
    for (let k = 0; k + 8 <= entries.length; k += 8) if (entries.readBigUInt64LE(k) & SWAPPED) n++;
    return n;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
