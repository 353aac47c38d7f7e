/**
 * How much of an address range is present, and how much of it is on PMD huge pages.
 * Invariant: `exact` results come from PAGEMAP_SCAN and are true to the page; where the
 * kernel lacks it (< 6.7) the answer is prorated from smaps per VMA and says so.
 */
import { binding } from './binding';
import { readSmaps, vmasIn, Pid } from './smaps';

export interface Run {
  start: number;
  end: number;
  /** Mapped by a PMD huge page (THP or hugetlb). */
  huge: boolean;
}

export interface Coverage {
  method: 'pagemap_scan' | 'smaps';
  exact: boolean;
  start: number;
  end: number;
  presentBytes: number;
  hugeBytes: number;
  /** Present pages in address order; gaps are not present. Empty for the smaps method. */
  runs: Run[];
}

let scanSupported: boolean | undefined;

/** Whether this kernel answers PAGEMAP_SCAN (Linux >= 6.7). */
export function pagemapScanSupported(): boolean {
  if (scanSupported === undefined) {
    const page = binding.pageSize();
    try {
      // Any range will do, mapped or not: the kernel either knows the ioctl or refuses it.
      binding.pagemapScan('self', page, 2 * page);
      scanSupported = true;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code !== 'ENOTTY' && code !== 'EINVAL' && code !== 'EOPNOTSUPP') throw e;
      scanSupported = false;
    }
  }
  return scanSupported;
}

export function coverage(pid: Pid, start: number, end: number): Coverage {
  if (pagemapScanSupported()) {
    const r = binding.pagemapScan(pid, start, end);
    const runs: Run[] = [];
    for (let i = 0; i < r.runs.length; i += 3) runs.push({ start: r.runs[i], end: r.runs[i + 1], huge: r.runs[i + 2] === 1 });
    return { method: 'pagemap_scan', exact: true, start, end, presentBytes: r.presentBytes, hugeBytes: r.hugeBytes, runs };
  }
  let presentBytes = 0;
  let hugeBytes = 0;
  for (const v of vmasIn(readSmaps(pid), start, end)) {
    const share = (Math.min(end, v.end) - Math.max(start, v.start)) / (v.end - v.start);
    presentBytes += Math.round(v.rss * share);
    hugeBytes += Math.round(v.anonHugePages * share);
  }
  return { method: 'smaps', exact: false, start, end, presentBytes, hugeBytes, runs: [] };
}

/** What PAGEMAP_SCAN says of one huge page frame (or the part of it inside a range). */
export interface FrameCoverage {
  base: number;
  /** Present bytes of the frame within [start, end). */
  presentBytes: number;
  /** The whole frame is mapped by one huge page. */
  huge: boolean;
}

/**
 * The frames of size `h` overlapping [start, end), each with what `runs` (address order, as
 * coverage() returns them) say of its part inside the range; one pass over the runs.
 */
export function* framesOf(runs: readonly Run[], start: number, end: number, h: number): Generator<FrameCoverage> {
  let r = 0;
  for (let base = Math.floor(start / h) * h; base < end; base += h) {
    const lo = Math.max(base, start);
    const hi = Math.min(base + h, end);
    while (r < runs.length && runs[r].end <= lo) r++;
    let presentBytes = 0;
    let huge = false;
    for (let k = r; k < runs.length && runs[k].start < hi; k++) {
      presentBytes += Math.min(runs[k].end, hi) - Math.max(runs[k].start, lo);
      if (runs[k].huge && runs[k].start <= base && runs[k].end >= base + h) huge = true;
    }
    yield { base, presentBytes, huge };
  }
}
