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
    const all = ranges instanceof Float64Array ? ranges : Float64Array.from(ranges);
    // One call reads at most maxThpRangeBytes of address space (a bound on its time): larger
    // asks (a reservation of terabytes, ASan's shadow) go in pieces, whose answers line up.
    const limit = binding.limits().maxThpRangeBytes;
    let bytes = 0;
    for (let i = 0; i + 1 < all.length; i += 2) bytes += all[i + 1] - all[i];
    if (bytes <= limit) return binding.thpRanges(pid, all) ?? undefined;
    const out: number[] = [];
    for (const piece of rangeBatches(all, limit)) {
      const r = binding.thpRanges(pid, piece);
      if (!r) return undefined;
      for (const x of r) out.push(x);
    }
    return Float64Array.from(out);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw e;
  }
}

/**
 * Records of `stride` numbers — start, end, then any fields that go with the range — in batches
 * of at most `limit` bytes of range each, in order; a range over the room left is cut there, its
 * fields repeated on each part. (kpageflags reads pairs, thp-sizes triples with a VMA index.)
 */
export function* rangeBatches(records: Float64Array, limit: number, stride = 2): Generator<Float64Array> {
  let batch: number[] = [];
  let room = limit;
  for (let i = 0; i + stride <= records.length; i += stride) {
    const e = records[i + 1];
    for (let s = records[i]; s < e; ) {
      const n = Math.min(e - s, room);
      batch.push(s, s + n);
      for (let k = 2; k < stride; k++) batch.push(records[i + k]);
      s += n;
      room -= n;
      if (room === 0) {
        yield Float64Array.from(batch);
        batch = [];
        room = limit;
      }
    }
  }
  if (batch.length) yield Float64Array.from(batch);
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
