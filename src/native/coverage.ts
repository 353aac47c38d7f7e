/**
 * How much of an address range is present, and how much of it is on PMD huge pages.
 * Invariant: the arguments are checked once, before either reader runs. `exact` results
 * come from PAGEMAP_SCAN and are true to the page, and never claim more huge bytes in a VMA
 * than its smaps PMD counters (AnonHugePages + ShmemPmdMapped + FilePmdMapped + hugetlb):
 * kernels 6.7-6.15 without "fs/proc/task_mmu: fix PAGE_IS_PFNZERO detection for the huge
 * zero folio" report the huge zero page as present and huge; such excess is not counted and
 * is listed in `excess`. Where the kernel lacks PAGEMAP_SCAN (< 6.7) the answer is prorated
 * from smaps per VMA and says so.
 */
import * as os from 'node:os';
import { binding } from './binding';
import { readSmaps, vmasIn, overlapping, Pid, Vma } from './smaps';
import { argError, received, intArg, uintArg, optionsArg, optional, boolArg } from './args';

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
  /**
   * VMAs where PAGEMAP_SCAN said more bytes were huge than smaps counts (the huge zero page
   * on an unfixed kernel): that many bytes are left out of hugeBytes and presentBytes. The
   * runs still carry them, since which frames they are cannot be told apart unprivileged.
   */
  excess: { start: number; end: number; bytes: number }[];
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

/** One check for both readers: a pid, and a page-aligned, non-empty [start, end). */
function checkArgs(pid: unknown, start: unknown, end: unknown): void {
  if (pid !== 'self' && !(typeof pid === 'number' && Number.isSafeInteger(pid) && pid >= 1)) {
    const Class = typeof pid === 'number' ? RangeError : TypeError;
    throw argError(Class, Class === RangeError ? 'ERR_INVALID_ARG_VALUE' : 'ERR_INVALID_ARG_TYPE', `The "pid" argument must be a positive integer or 'self'. ${received(pid)}`);
  }
  const page = binding.pageSize();
  for (const [name, v] of [['start', start], ['end', end]] as const) {
    if (typeof v !== 'number') throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type number. ${received(v)}`);
    if (!Number.isSafeInteger(v) || v < 0 || v % page !== 0) {
      throw argError(RangeError, 'ERR_INVALID_ARG_VALUE', `The "${name}" argument must be a page-aligned integer from 0 to 2^53 - 1. Received ${v}`);
    }
  }
  if ((end as number) <= (start as number)) {
    throw argError(RangeError, 'ERR_INVALID_ARG_VALUE', `The "end" argument must be greater than "start". Received start ${start}, end ${end}`);
  }
}

/** Bytes smaps says are mapped by PMDs (or hugetlb) in a VMA: what PAGE_IS_HUGE may cover. */
function pmdBytes(v: Vma): number {
  const n = (k: string) => (typeof v[k] === 'number' ? (v[k] as number) : 0);
  return n('anonHugePages') + n('shmemPmdMapped') + n('filePmdMapped') + n('privateHugetlb') + n('sharedHugetlb');
}

/** Huge bytes of `runs` (flat start, end, huge triples) per VMA beyond what smaps counts there; one merge. */
function excessOfFlat(runs: Float64Array, vmas: readonly Vma[]): Coverage['excess'] {
  const out: Coverage['excess'] = [];
  let r = 0;
  for (const v of vmas) {
    while (r < runs.length && runs[r + 1] <= v.start) r += 3;
    let huge = 0;
    for (let k = r; k < runs.length && runs[k] < v.end; k += 3) {
      if (runs[k + 2] === 1) huge += Math.min(runs[k + 1], v.end) - Math.max(runs[k], v.start);
    }
    if (huge > pmdBytes(v)) out.push({ start: v.start, end: v.end, bytes: huge - pmdBytes(v) });
  }
  return out;
}

function flatten(runs: readonly Run[]): Float64Array {
  const a = new Float64Array(runs.length * 3);
  runs.forEach((r, i) => a.set([r.start, r.end, r.huge ? 1 : 0], 3 * i));
  return a;
}

/** Huge bytes of `runs` per VMA beyond what smaps counts there. */
function excessOf(runs: readonly Run[], vmas: readonly Vma[]): Coverage['excess'] {
  return excessOfFlat(flatten(runs), vmas);
}

/** The flat runs (start, end, huge 0|1 triples) as Run objects. */
export function runObjects(flat: Float64Array, from = 0, to = flat.length): Run[] {
  const runs: Run[] = [];
  for (let i = from; i < to; i += 3) runs.push({ start: flat[i], end: flat[i + 1], huge: flat[i + 2] === 1 });
  return runs;
}

/**
 * The kernel's answer for [start, end) of a process. The smaps cross-check reads smaps
 * after the scan; a huge page split in between would look like excess, so excess is
 * confirmed by a second scan and read and only the smaller figure is kept. The cross-check runs
 * where the kernel may lack the fix (6.7-6.15) or when `crossCheck` asks for it. A caller that has
 * just read the process's smaps (a report walking every VMA) passes them as `vmas`, so that
 * each call does not read them again.
 */
/**
 * Whether this kernel may report the huge zero page as present and huge: PAGEMAP_SCAN came in
 * 6.7 and the fix in 6.16, so 6.7-6.15 (a distribution's backport cannot be seen from here).
 */
export function mayMisreportZeroPage(): boolean {
  const [major, minor] = os.release().split('.').map((x) => parseInt(x, 10));
  return !(major > 6 || (major === 6 && minor >= 16));
}

/**
 * coverage() with the runs left flat: `runs` holds (start, end, huge 0|1) triples in address
 * order, so a caller walking a whole process (one walk for every VMA) attributes them by merge
 * without a Run object per run. `withRuns: false`: the totals only (runs empty); the walk keeps
 * no runs unless the smaps cross-check needs them.
 */
export type FlatCoverage = Omit<Coverage, 'runs'> & { runs: Float64Array };

export interface CoverageOptions {
  vmas?: readonly Vma[];
  crossCheck?: boolean;
  withRuns?: boolean;
}

/** The options, copied and checked before any read of the kernel. */
function coverageOptions(value: unknown): CoverageOptions {
  const o = optionsArg<CoverageOptions>(value, 'options', ['vmas', 'crossCheck', 'withRuns']);
  if (o.vmas !== undefined && !Array.isArray(o.vmas)) {
    throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "options.vmas" property must be an array of VMAs. ${received(o.vmas)}`);
  }
  return { vmas: o.vmas, crossCheck: optional(o.crossCheck, boolArg, 'options.crossCheck'), withRuns: optional(o.withRuns, boolArg, 'options.withRuns') };
}

export function coverageFlat(pid: Pid, start: number, end: number, opts?: CoverageOptions): FlatCoverage {
  checkArgs(pid, start, end);
  const options = coverageOptions(opts);
  if (pagemapScanSupported()) {
    const crossCheck = options.crossCheck ?? mayMisreportZeroPage();
    const keep = options.withRuns ?? true;
    const none = new Float64Array(0);
    const walk = () => binding.pagemapScan(pid, start, end, keep || crossCheck);
    let s = walk();
    if (!crossCheck) return { method: 'pagemap_scan', exact: true, start, end, presentBytes: s.presentBytes, hugeBytes: s.hugeBytes, runs: s.runs, excess: [] };
    let excess = excessOfFlat(s.runs, options.vmas ? vmasIn(options.vmas, start, end) : overlapping(readSmaps(pid), start, end));
    if (excess.length) {
      const again = walk();
      const ex2 = excessOfFlat(again.runs, overlapping(readSmaps(pid), start, end));
      if (ex2.reduce((a, e) => a + e.bytes, 0) <= excess.reduce((a, e) => a + e.bytes, 0)) [s, excess] = [again, ex2];
    }
    const over = excess.reduce((a, e) => a + e.bytes, 0);
    return { method: 'pagemap_scan', exact: true, start, end, presentBytes: s.presentBytes - over, hugeBytes: s.hugeBytes - over, runs: keep ? s.runs : none, excess };
  }
  let presentBytes = 0;
  let hugeBytes = 0;
  for (const v of overlapping(readSmaps(pid), start, end)) {
    const share = (Math.min(end, v.end) - Math.max(start, v.start)) / (v.end - v.start);
    presentBytes += Math.round(v.rss * share);
    hugeBytes += Math.round(v.anonHugePages * share);
  }
  return { method: 'smaps', exact: false, start, end, presentBytes, hugeBytes, runs: new Float64Array(0), excess: [] };
}

/** `withRuns: false`: totals only, `runs` empty (no Run object built). */
export function coverage(pid: Pid, start: number, end: number, options?: CoverageOptions): Coverage {
  const c = coverageFlat(pid, start, end, options);
  return { ...c, runs: runObjects(c.runs) };
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
/** For tests of the reconciliation (pure bookkeeping over given runs and VMAs). */
export const _excessOf = excessOf;

/**
 * The huge page size `h` of a frame walk, checked: a power of two of at least the OS page, so
 * that a walk takes (end - start) / h steps and no fewer pages than the kernel maps.
 */
export function frameSizeArg(h: unknown, name = 'h'): number {
  const page = binding.pageSize();
  const v = intArg(h, name, page, 2 ** 40);
  if (2 ** Math.round(Math.log2(v)) !== v) {
    throw argError(RangeError, 'ERR_INVALID_ARG_VALUE', `The "${name}" argument must be a power of two (a huge page size). Received ${v}`);
  }
  return v;
}

export function framesOf(runs: readonly Run[], start: number, end: number, h: number): Generator<FrameCoverage> {
  if (!Array.isArray(runs)) throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "runs" argument must be an array of runs. ${received(runs)}`);
  uintArg(start, 'start');
  uintArg(end, 'end');
  frameSizeArg(h);
  return walkFrames(runs, start, end, h);
}

function* walkFrames(runs: readonly Run[], start: number, end: number, h: number): Generator<FrameCoverage> {
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
