/**
 * The accounting: how much of a process, or of the system, is on huge pages, where it is not,
 * and why. Invariant: every anonymous byte of a process lands in exactly one bucket
 * (schema.ts: AccountJson), and the buckets add up to smaps' Anonymous to the byte; each number
 * says its source. Nothing here prints: the CLI's renderers only read these values.
 */
import { hostInfo, HostInfo } from '../native/host';
import type { Vma } from '../native/smaps';
import { framesOf, runObjects, Run } from '../native/coverage';
import { readProcess, scanFlat, holdsAnonymous, coverageRatio, summarizeProcesses, readMeminfo, readThpCounters, readCompactionCounters, readMthp, readFreeBlocks, readCgroupStat, cgroupPids } from './proc';
import { openPageFlags, PageFlags, swappedPages } from './kpageflags';
import { Reason, ReasonContext, frameReason, vmaReason } from './reasons';
import { SCHEMA } from './schema';
import type { AccountJson, CgroupReport, FrameJson, HostJson, OtherHugeJson, ProcessReport, SystemReport, ThpJson, VmaJson } from './schema';


export function hostJson(h: HostInfo): HostJson {
  return { kernel: h.kernel, arch: h.arch, pageSize: h.pageSize, pagemapScan: h.pagemapScan };
}

export function thpJson(h: HostInfo): ThpJson {
  return {
    enabled: h.thp.enabled ?? null,
    defrag: h.thp.defrag ?? null,
    hugePageSize: h.hugePageSize,
    maxPtesNone: h.thp.khugepaged.max_ptes_none ?? null,
    khugepaged: h.thp.khugepaged,
    sizes: h.thp.sizes,
  };
}

function hexAddress(n: number): string {
  return `0x${n.toString(16)}`;
}

interface Measured {
  /** Anonymous bytes on PMD huge pages by the report's method (PAGEMAP_SCAN or smaps). */
  huge: number;
  account: AccountJson;
  frames: FrameJson[];
}

function vmaJson(v: Vma, m: Measured): VmaJson {
  return {
    start: hexAddress(v.start),
    end: hexAddress(v.end),
    size: v.size,
    perms: v.perms,
    path: v.path,
    rss: v.rss,
    anonymous: v.anonymous,
    anonHugePages: m.huge,
    coverage: coverageRatio(m.huge, v.anonymous),
    thpEligible: v.thpEligible ?? null,
    vmFlags: v.vmFlags,
    eligibleNotHuge: v.thpEligible ? Math.max(0, v.anonymous - m.huge) : 0,
    account: m.account,
    frames: m.frames,
  };
}

function add(into: Partial<Record<Reason, number>>, reason: Reason, bytes: number): void {
  if (bytes > 0) into[reason] = (into[reason] ?? 0) + bytes;
}

/**
 * One VMA's anonymous bytes in buckets. pmdMapped is smaps' AnonHugePages (exact for PMD-mapped
 * anonymous THP); the small rest goes to the VMA's reason, or, in an eligible anonymous VMA,
 * frame by frame from PAGEMAP_SCAN. Bytes the frames do not explain (the process changed
 * between the two reads) are `not-determined`, so the buckets always add up to Anonymous.
 */
function measureVma(pid: number, v: Vma, ctx: ReasonContext, c: { hugeBytes: number; runs: Run[] } | undefined, flags: PageFlags | undefined): Measured {
  const anonymous = v.anonymous;
  const pmdMapped = Math.min(anonymous, v.anonHugePages);
  const reasons: Partial<Record<Reason, number>> = {};
  const frames: FrameJson[] = [];
  const whole = vmaReason(v, ctx);
  const anonVma = isAnonVma(v);
  let huge = v.anonHugePages;
  let pte: number | null;
  let fromFrames = 0;

  if (c && anonVma) {
    huge = c.hugeBytes;
    let ptePages: number | null = flags ? 0 : null;
    const h = ctx.hugePage;
    for (const f of framesOf(c.runs, v.start, v.end, h)) {
      if (f.huge || f.presentBytes === 0) continue;
      // Present pages of the frame inside the VMA (framesOf clips to [v.start, v.end)).
      const lo = Math.max(f.base, v.start);
      const hi = Math.min(f.base + h, v.end);
      const runs = c.runs.filter((r) => r.end > lo && r.start < hi && !r.huge).map((r) => ({ start: Math.max(r.start, lo), end: Math.min(r.end, hi) }));
      let inThp = 0;
      if (ptePages !== null && flags) {
        const t = flags.thpBytes(runs);
        if (t === undefined) ptePages = null;
        else {
          inThp = t;
          ptePages += t;
        }
      }
      // Swap is read per frame only where smaps says the VMA has some: most have none.
      const swapped = !whole && v.swap > 0 ? (swappedPages(pid, lo, hi, ctx.pageSize) ?? 0) : 0;
      const reason = whole ?? frameReason(v, f.base, f.presentBytes, ctx, swapped);
      frames.push({ start: hexAddress(f.base), present: f.presentBytes, reason });
      add(reasons, reason, f.presentBytes - inThp);
      fromFrames += f.presentBytes - inThp;
    }
    pte = ptePages;
  } else if (anonVma && flags) {
    // No per-frame truth: every THP page kpageflags sees, less the PMD-mapped ones smaps counts.
    const t = flags.thpBytes([{ start: v.start, end: v.end }]);
    pte = t === undefined ? null : Math.max(0, Math.min(anonymous - pmdMapped, t - pmdMapped));
  } else {
    // Copy-on-write pages of a file mapping are order-0 pages; with no PFNs we cannot say.
    pte = anonVma ? null : 0;
  }

  const small = Math.max(0, anonymous - pmdMapped - (pte ?? 0));
  if (!frames.length && small > 0) add(reasons, whole ?? (v.thpEligible === false ? 'kernel-ineligible' : 'not-determined'), small);
  else if (fromFrames !== small) {
    // The process changed between reading smaps and scanning: keep the sum exact and say so.
    if (fromFrames < small) add(reasons, 'not-determined', small - fromFrames);
    else trim(reasons, fromFrames - small);
  }
  return { huge, account: { anonymous, pmdMapped, pteMappedThp: pte, small, reasons }, frames };
}

/** Private anonymous: the VMAs PAGEMAP_SCAN measures frame by frame. */
function isAnonVma(v: Vma): boolean {
  return v.inode === 0 && v.perms[3] !== 's';
}

/**
 * Every VMA's share of one PAGEMAP_SCAN walk over the whole process: `vmas` and the flat runs
 * are both in address order, so one merge hands each VMA its runs, clipped to it, and its huge
 * bytes less the excess the walk's cross-check found there. A run may span two adjacent VMAs
 * (the kernel joins equal labels), so the cursor only passes runs ending at or before a VMA.
 */
function attribute(vmas: readonly Vma[], walk: { runs: Float64Array; excess: { start: number; bytes: number }[] }): ({ hugeBytes: number; runs: Run[] } | undefined)[] {
  const { runs } = walk;
  const excess = new Map(walk.excess.map((e) => [e.start, e.bytes]));
  const out: ({ hugeBytes: number; runs: Run[] } | undefined)[] = new Array(vmas.length);
  let r = 0;
  for (let i = 0; i < vmas.length; i++) {
    const v = vmas[i];
    while (r < runs.length && runs[r + 1] <= v.start) r += 3;
    let k = r;
    while (k < runs.length && runs[k] < v.end) k += 3;
    const mine = runObjects(runs, r, k);
    let hugeBytes = 0;
    for (const run of mine) {
      run.start = Math.max(run.start, v.start);
      run.end = Math.min(run.end, v.end);
      if (run.huge) hugeBytes += run.end - run.start;
    }
    out[i] = { hugeBytes: hugeBytes - (excess.get(v.start) ?? 0), runs: mine };
  }
  return out;
}

/** Take `excess` bytes out of the biggest buckets (frames counted more than smaps has now). */
function trim(reasons: Partial<Record<Reason, number>>, excess: number): void {
  for (const [r, n] of Object.entries(reasons).sort((a, b) => (b[1] ?? 0) - (a[1] ?? 0)) as [Reason, number][]) {
    const cut = Math.min(n, excess);
    reasons[r] = n - cut;
    if (reasons[r] === 0) delete reasons[r];
    excess -= cut;
    if (excess === 0) return;
  }
}

function sumAccounts(accounts: AccountJson[]): AccountJson {
  const out: AccountJson = { anonymous: 0, pmdMapped: 0, pteMappedThp: 0, small: 0, reasons: {} };
  for (const a of accounts) {
    out.anonymous += a.anonymous;
    out.pmdMapped += a.pmdMapped;
    out.pteMappedThp = out.pteMappedThp === null || a.pteMappedThp === null ? null : out.pteMappedThp + a.pteMappedThp;
    out.small += a.small;
    for (const [r, n] of Object.entries(a.reasons) as [Reason, number][]) add(out.reasons, r, n);
  }
  return out;
}

/** From smaps fields summed over every VMA of the process (ProcessMemory.sums). */
function otherHuge(sums: Record<string, number>): OtherHugeJson {
  const total = (k: string): number => sums[k] ?? 0;
  return { filePmdMapped: total('filePmdMapped'), shmemPmdMapped: total('shmemPmdMapped'), privateHugetlb: total('privateHugetlb'), sharedHugetlb: total('sharedHugetlb') };
}

function sum(vmas: VmaJson[], field: 'anonymous' | 'anonHugePages' | 'eligibleNotHuge'): number {
  return vmas.reduce((n, v) => n + v[field], 0);
}

/**
 * One process: every VMA holding anonymous memory, with its bytes in buckets and its frames
 * with reasons. `exact`: use PAGEMAP_SCAN where the kernel has it.
 */
export function processReport(pid: number, options: { exact: boolean; seen?: boolean }): ProcessReport {
  const host = hostInfo();
  // Only VMAs holding anonymous memory are built; the totals come from the addon's sums.
  const p = readProcess(pid, options.seen, { minAnonymous: 1 });
  const method = options.exact && host.pagemapScan ? 'pagemap_scan' : 'smaps';
  const ctx: ReasonContext = {
    thpDisabled: p.thpDisabled,
    enabled: host.thp.enabled,
    hugePage: host.hugePageSize,
    pageSize: host.pageSize,
    maxPtesNone: host.thp.khugepaged.max_ptes_none ?? 511,
    maxPtesSwap: host.thp.khugepaged.max_ptes_swap ?? 64,
  };
  const flags = openPageFlags(pid, host.pageSize);
  let vmas: VmaJson[];
  try {
    const held = p.vmas.filter(holdsAnonymous);
    // One walk from the first private anonymous VMA to the last, attributed by merge.
    const anon = method === 'pagemap_scan' && host.hugePageSize > 0 ? held.filter(isAnonVma) : [];
    const walked = anon.length ? attribute(anon, scanFlat(pid, anon[0].start, anon[anon.length - 1].end, anon)) : [];
    let a = 0;
    vmas = held.map((v) => vmaJson(v, measureVma(pid, v, ctx, a < anon.length && anon[a] === v ? walked[a++] : undefined, flags)));
  } finally {
    flags?.close();
  }
  const anonymous = sum(vmas, 'anonymous');
  const anonHugePages = sum(vmas, 'anonHugePages');
  return {
    schema: SCHEMA,
    kind: 'process',
    time: new Date().toISOString(),
    pid,
    comm: p.comm,
    host: hostJson(host),
    thp: thpJson(host),
    thpDisabled: p.thpDisabled ?? null,
    method,
    totals: {
      rss: p.sums.rss ?? 0,
      anonymous,
      anonHugePages,
      coverage: coverageRatio(anonHugePages, anonymous),
      eligibleNotHuge: sum(vmas, 'eligibleNotHuge'),
      noHugePage: vmas.filter((v) => v.vmFlags.includes('nh')).reduce((n, v) => n + v.anonymous, 0),
      account: sumAccounts(vmas.map((v) => v.account)),
      otherHuge: otherHuge(p.sums),
    },
    vmas,
  };
}

/** How many processes the system report ranks without --all. */
const TOP_PROCESSES = 10;

export function systemReport(options: { all: boolean }): SystemReport {
  const host = hostInfo();
  const mem = readMeminfo();
  const { processes, unreadable } = summarizeProcesses();
  const ranked = processes.sort((a, b) => b.anonymous - a.anonymous || a.pid - b.pid);
  const anonymous = mem.AnonPages ?? 0;
  const anonHugePages = mem.AnonHugePages ?? 0;
  return {
    schema: SCHEMA,
    kind: 'system',
    time: new Date().toISOString(),
    host: hostJson(host),
    thp: thpJson(host),
    memory: { anonymous, anonHugePages, coverage: coverageRatio(anonHugePages, anonymous) },
    counters: readThpCounters(),
    compaction: readCompactionCounters(),
    mthp: readMthp(),
    freeHugeBlocks: host.hugePageSize ? readFreeBlocks(Math.log2(host.hugePageSize / host.pageSize)) : [],
    method: 'smaps_rollup',
    processes: (options.all ? ranked : ranked.slice(0, TOP_PROCESSES)).map((p) => ({
      pid: p.pid,
      comm: p.comm,
      rss: p.rss,
      anonymous: p.anonymous,
      anonHugePages: p.anonHugePages,
      coverage: coverageRatio(p.anonHugePages, p.anonymous),
      thpDisabled: p.thpDisabled ?? null,
    })),
    readable: processes.length,
    unreadable,
  };
}


/**
 * A memory cgroup: its own THP counters (memory.stat), and its processes. `path` is the cgroup's
 * directory (e.g. /sys/fs/cgroup/system.slice/foo.service); v2 and v1 layouts are both read.
 */
export function cgroupReport(path: string): CgroupReport {
  const host = hostInfo();
  const stat = readCgroupStat(path);
  const v2 = 'anon' in stat;
  const anonymous = v2 ? stat.anon : (stat.total_rss ?? stat.rss ?? 0);
  const anonHugePages = v2 ? (stat.anon_thp ?? 0) : (stat.total_rss_huge ?? stat.rss_huge ?? 0);
  const { processes, unreadable } = summarizeProcesses(cgroupPids(path));
  return {
    schema: SCHEMA,
    kind: 'cgroup',
    time: new Date().toISOString(),
    path,
    version: v2 ? 2 : 1,
    host: hostJson(host),
    thp: thpJson(host),
    anonymous,
    anonHugePages,
    coverage: coverageRatio(anonHugePages, anonymous),
    fileThp: v2 ? (stat.file_thp ?? 0) : null,
    shmemThp: v2 ? (stat.shmem_thp ?? 0) : null,
    processes: processes
      .sort((a, b) => b.anonymous - a.anonymous || a.pid - b.pid)
      .map((p) => ({ pid: p.pid, comm: p.comm, rss: p.rss, anonymous: p.anonymous, anonHugePages: p.anonHugePages, coverage: coverageRatio(p.anonHugePages, p.anonymous), thpDisabled: p.thpDisabled ?? null })),
    unreadable,
  };
}
