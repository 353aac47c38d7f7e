/**
 * What khugepaged and MADV_COLLAPSE look at in each 2 MiB frame, read from /proc/PID/pagemap:
 * per frame, how many PTEs are empty, present, swapped (or migrating), mapped exclusively by this
 * process or shared with another (a fork's copy-on-write pages), and write-protected by
 * userfaultfd. Invariant: read-only, one pagemap read per chunk of frames, nothing in the target
 * touched; counts are of 4 KiB pages inside [start, end) only, and add up:
 * present + swapped + none = pages, exclusive + shared = present.
 *
 * API (stable; collapse planning cherry-picks this file alone):
 *   readFrameFacts(pid, start, end, { hugePage, pageSize, zero? }) -> FrameFacts[] | undefined
 *     Every frame (aligned to hugePage) that overlaps [start, end), ascending, empty ones too:
 *     the caller bounds the range (a VMA, a few frames). undefined where pagemap cannot be read
 *     (no such process, not permitted); other errors throw.
 *   FRAME_FACT_BITS: the pagemap bits used, for docs and tests.
 *
 * pagemap bits (Documentation/admin-guide/mm/pagemap.rst): 63 present, 62 swapped, 57 PTE is
 * uffd-wp write-protected, 56 page exclusively mapped, 0-54 PFN (zero without CAP_SYS_ADMIN).
 * A PMD-mapped THP shows as 512 present entries: pagemap does not say "huge" (PAGEMAP_SCAN and
 * smaps do). The shared zero page (a read of untouched memory) is present and not exclusive,
 * and khugepaged counts it as empty: `zero` separates it where PFNs are visible (root, with
 * `zero: true`, through /proc/kpageflags KPF_ZERO_PAGE), else it is null and such PTEs count as
 * shared. Whether a page was referenced lately (khugepaged's young check) is not in pagemap.
 */
import * as fs from 'node:fs';
import { argError } from '../native/args';

export interface FrameFacts {
  /** The frame's first address (a multiple of hugePage). */
  start: number;
  /** 4 KiB pages of the frame inside [start, end) that were read (512 for a whole frame). */
  pages: number;
  /** PTEs mapping a page (bit 63), zero page included. */
  present: number;
  /** Swap or migration entries (bit 62): khugepaged's max_ptes_swap counts these. */
  swapped: number;
  /** Neither present nor swapped: khugepaged's max_ptes_none counts these (and zero-page PTEs). */
  none: number;
  /** Present and mapped by this process only (bit 56). */
  exclusive: number;
  /** Present and not exclusive: shared with another process (fork), or the zero page. */
  shared: number;
  /** Of `shared`, PTEs of the shared zero page; null where PFNs are hidden or not asked for. */
  zero: number | null;
  /** PTEs write-protected by userfaultfd (bit 57): neither khugepaged nor MADV_COLLAPSE collapses such a frame. */
  uffdWp: number;
}

export const FRAME_FACT_BITS = { present: 63, swapped: 62, uffdWp: 57, exclusive: 56 } as const;

// The high 32 bits of an entry.
const PRESENT = 0x80000000;
const SWAPPED = 0x40000000;
const UFFD_WP = 0x02000000;
const EXCLUSIVE = 0x01000000;
const PFN_HI = 0x007fffff;
/** /proc/kpageflags bit of the shared zero page. */
const KPF_ZERO_PAGE = 24;
/** Frames read per pagemap pread: 64 × 4 KiB of entries. */
const CHUNK_FRAMES = 64;

export interface FrameFactsOptions {
  /** The PMD huge page size (hpage_pmd_size). */
  hugePage: number;
  pageSize: number;
  /** Tell zero-page PTEs apart (root only: one kpageflags read per distinct shared PFN). */
  zero?: boolean;
}

function gone(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES' || code === 'EPERM';
}

/** Whether the page at `pfn` is the zero page, by /proc/kpageflags; cached per PFN. */
function zeroPageTest(): ((pfn: number) => boolean) | undefined {
  let fd: number;
  try {
    fd = fs.openSync('/proc/kpageflags', 'r');
  } catch {
    return undefined;
  }
  const cache = new Map<number, boolean>();
  const b = Buffer.alloc(8);
  const test = (pfn: number): boolean => {
    let z = cache.get(pfn);
    if (z === undefined) {
      z = fs.readSync(fd, b, 0, 8, pfn * 8) === 8 && (b.readUInt32LE(0) & (1 << KPF_ZERO_PAGE)) !== 0;
      cache.set(pfn, z);
    }
    return z;
  };
  return Object.assign(test, { close: () => fs.closeSync(fd) });
}

/** The facts of every frame overlapping [start, end) of `pid`; see the API note above. */
export function readFrameFacts(pid: number | 'self', start: number, end: number, options: FrameFactsOptions): FrameFacts[] | undefined {
  const { hugePage: h, pageSize: p } = options;
  if (!(h > 0 && p > 0 && h % p === 0)) throw argError(RangeError, 'ERR_INVALID_ARG_VALUE', `hugePage ${h} must be a positive multiple of pageSize ${p}`);
  const lo = Math.floor(start / p) * p;
  const hi = Math.ceil(end / p) * p;
  const out: FrameFacts[] = [];
  if (hi <= lo) return out;
  let fd: number;
  try {
    fd = fs.openSync(`/proc/${pid}/pagemap`, 'r');
  } catch (e) {
    if (gone(e)) return undefined;
    throw e;
  }
  const isZero = options.zero ? zeroPageTest() : undefined;
  let pfnSeen = false;
  const buf = Buffer.allocUnsafe(Math.min((hi - lo) / p, (CHUNK_FRAMES * h) / p) * 8);
  try {
    for (let base = Math.floor(lo / h) * h; base < hi; base += h) {
      out.push({ start: base, pages: 0, present: 0, swapped: 0, none: 0, exclusive: 0, shared: 0, zero: null, uffdWp: 0 });
    }
    for (let at = lo; at < hi; ) {
      const want = Math.min(hi - at, buf.length / 8 * p);
      let got = 0;
      while (got < (want / p) * 8) {
        const n = fs.readSync(fd, buf, got, (want / p) * 8 - got, (at / p) * 8 + got);
        if (n === 0) break;
        got += n;
      }
      for (let k = 0; k + 8 <= got; k += 8) {
        const addr = at + (k / 8) * p;
        const f = out[Math.floor(addr / h) - Math.floor(lo / h)];
        const high = buf.readUInt32LE(k + 4);
        f.pages++;
        if (high & PRESENT) {
          f.present++;
          const pfn = (high & PFN_HI) * 4294967296 + buf.readUInt32LE(k);
          if (pfn !== 0) pfnSeen = true;
          if (high & EXCLUSIVE) f.exclusive++;
          else {
            f.shared++;
            if (isZero && pfn !== 0 && isZero(pfn)) f.zero = (f.zero ?? 0) + 1;
          }
        } else if (high & SWAPPED) f.swapped++;
        else f.none++;
        if (high & UFFD_WP) f.uffdWp++;
      }
      if (got < (want / p) * 8) break; // past the end of the address space
      at += want;
    }
  } catch (e) {
    if (gone(e)) return undefined;
    throw e;
  } finally {
    fs.closeSync(fd);
    (isZero as { close?: () => void } | undefined)?.close?.();
  }
  // Zero pages are known only where PFNs were visible: then a frame without any has 0, not null.
  if (isZero && pfnSeen) for (const f of out) f.zero ??= 0;
  else for (const f of out) f.zero = null;
  return out;
}
