/**
 * THPs mapped by PTEs (a split huge page on the deferred-split queue, a partly unmapped one,
 * multi-size THP), which smaps and PAGEMAP_SCAN count as small pages. Only /proc/kpageflags
 * tells, through the page frame numbers in /proc/PID/pagemap, and the kernel shows those to
 * root (CAP_SYS_ADMIN) only. Invariant: where a PFN reads 0 or kpageflags cannot be opened the
 * answer is `undefined` ("not visible without root"), never 0; read-only, no memory touched.
 */
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
