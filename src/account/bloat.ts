/**
 * The cost side of huge pages: of each PMD-mapped THP of a process, how many 4 KiB subpages
 * hold only zeros (memory the huge page made resident that nothing wrote: what faulting whole
 * huge pages and khugepaged's max_ptes_none=511 fill cost, and what Linux 6.12+'s underused-THP
 * shrinker splits off). Invariant: opt-in and read-only (the process's memory is copied out by
 * process_vm_readv, which needs ptrace read access, and never written); bounded (at most
 * `budget` bytes are read, THPs beyond it are counted as unread, never guessed); every THP read
 * is counted in exactly one VMA and one origin, and the totals are their sums.
 */
import { binding } from '../native/binding';
import { coverageFlat, pagemapScanSupported } from '../native/coverage';
import type { VmaJson } from './schema';

/**
 * Why the VMA could hold THP, which is how its huge pages came to be: advised MADV_HUGEPAGE
 * (VmFlags hg: fault, khugepaged or MADV_COLLAPSE in any THP mode), or not advised and THP
 * `enabled=always` (the fault path and khugepaged back every eligible VMA). A page does not
 * say whether the fault or a collapse made it; the VMA says why either could.
 */
export type BloatOrigin = 'advised-hugepage' | 'enabled-always';

export interface BloatCount {
  /** PMD-mapped THPs found (PAGEMAP_SCAN). */
  thps: number;
  /** Of them, read whole within the budget. */
  thpsRead: number;
  /** 4 KiB subpages of the THPs read that hold only zeros. */
  zeroPages: number;
  /** zeroPages in bytes. */
  zeroBytes: number;
}

export interface BloatVmaJson extends BloatCount {
  start: string;
  end: string;
  path: string;
  origin: BloatOrigin;
}

/** `report --pid PID --bloat`, `why --bloat`: the zero subpages of the process's THPs (ProcessReport.bloat, only with --bloat). */
export interface BloatJson extends BloatCount {
  /** Bytes the read was allowed (--bloat-budget). */
  budget: number;
  /** Bytes read. */
  bytesRead: number;
  /** Every THP found was read: the counts are whole. */
  complete: boolean;
  /** The subpage size, bytes. */
  pageSize: number;
  /** zeroBytes / the bytes of the THPs read, 0..1. */
  zeroShare: number;
  ms: number;
  byOrigin: Partial<Record<BloatOrigin, BloatCount>>;
  /** VMAs holding PMD-mapped THP, in address order. */
  vmas: BloatVmaJson[];
}

/** The read budget without --bloat-budget: 1 GiB, a tenth of a second at memory speed. */
export const DEFAULT_BLOAT_BUDGET = 1 << 30;

function zeroCount(): BloatCount {
  return { thps: 0, thpsRead: 0, zeroPages: 0, zeroBytes: 0 };
}

function addCount(into: BloatCount, c: BloatCount): void {
  into.thps += c.thps;
  into.thpsRead += c.thpsRead;
  into.zeroPages += c.zeroPages;
  into.zeroBytes += c.zeroBytes;
}

export function originOf(v: Pick<VmaJson, 'vmFlags'>): BloatOrigin {
  return v.vmFlags.includes('hg') ? 'advised-hugepage' : 'enabled-always';
}

/**
 * The bloat of `vmas` (a report's, or any with start/end/path/vmFlags/anonHugePages) of `pid`.
 * Throws (SystemError EPERM/ESRCH, as process_vm_readv says) when the memory cannot be read;
 * Error when the kernel has no PAGEMAP_SCAN to say where the PMD-mapped THPs are.
 */
export function bloat(pid: number | 'self', vmas: readonly Pick<VmaJson, 'start' | 'end' | 'path' | 'vmFlags' | 'anonHugePages'>[], h: number, budget = DEFAULT_BLOAT_BUDGET): BloatJson {
  if (!pagemapScanSupported()) throw Object.assign(new Error('--bloat needs PAGEMAP_SCAN (Linux >= 6.7) to find the PMD-mapped huge pages'), { code: 'ERR_HUGESPAN_NO_PAGEMAP_SCAN' });
  const t0 = performance.now();
  const pageSize = binding.pageSize();
  // Every PMD-mapped frame of every VMA holding THP, in address order, and its VMA.
  const frames: number[] = [];
  const owner: number[] = [];
  const held = vmas.filter((v) => v.anonHugePages > 0 && h > 0);
  held.forEach((v, i) => {
    const start = Number(v.start);
    const end = Number(v.end);
    const { runs } = coverageFlat(pid, start, end);
    for (let k = 0; k < runs.length; k += 3) {
      if (runs[k + 2] !== 1) continue;
      for (let base = Math.ceil(runs[k] / h) * h; base + h <= runs[k + 1]; base += h) {
        frames.push(base);
        owner.push(i);
      }
    }
  });
  const ranges = new Float64Array(frames.length * 2);
  frames.forEach((base, i) => {
    ranges[2 * i] = base;
    ranges[2 * i + 1] = h;
  });
  const r = frames.length ? binding.zeroPages(pid, ranges, budget) : { zero: new Float64Array(0), read: new Float64Array(0), bytes: 0, ns: 0 };
  const per = held.map(() => zeroCount());
  frames.forEach((_, i) => {
    const c = per[owner[i]];
    c.thps++;
    // A THP counts as read only whole: a partial read (budget, or unmapped since) says nothing of the rest.
    if (r.read[i] !== h) return;
    c.thpsRead++;
    c.zeroPages += r.zero[i];
    c.zeroBytes += r.zero[i] * pageSize;
  });
  const total = zeroCount();
  const byOrigin: Partial<Record<BloatOrigin, BloatCount>> = {};
  const out: BloatVmaJson[] = held.map((v, i) => {
    const origin = originOf(v);
    addCount(total, per[i]);
    addCount((byOrigin[origin] ??= zeroCount()), per[i]);
    return { start: v.start, end: v.end, path: v.path, origin, ...per[i] };
  });
  return {
    budget,
    bytesRead: r.bytes,
    complete: total.thpsRead === total.thps,
    pageSize,
    ...total,
    zeroShare: total.thpsRead ? total.zeroBytes / (total.thpsRead * h) : 0,
    ms: performance.now() - t0,
    byOrigin,
    vmas: out,
  };
}
