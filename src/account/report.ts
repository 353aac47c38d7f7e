/**
 * The accounting: how much of a process, or of the system, is on huge pages, where it is not,
 * and why. Invariant: every anonymous byte of a process lands in exactly one bucket
 * (schema.ts: AccountJson), and the buckets add up to smaps' Anonymous to the byte; each number
 * says its source. Nothing here prints: the CLI's renderers only read these values.
 */
import { hostInfo, HostInfo } from '../native/host';
import { mayMisreportZeroPage } from '../native/coverage';
import * as fs from 'node:fs';
import { eachVma, flatBounds, flatSpan } from '../native/smaps';
import type { Vma } from '../native/smaps';
import { streamProcess, scanFlat, coverageRatio, summarizeProcesses, readMeminfo, readThpCounters, readCompactionCounters, readMthp, readFreeBlocks, readCgroupStat, cgroupPids } from './proc';
import { overlapBytes, thpRanges } from './kpageflags';
import { readFrameFacts } from './frame-facts';
import { addBySize, fileVmas, thpFolios, vmaFolios, withoutPmdMapped } from './thp-sizes';
import type { ThpBySize } from './thp-sizes';
import type { FrameFacts } from './frame-facts';
import { Reason, ReasonContext, frameReason, frameReasonUnder, isAnonVma, reasonContext, uffdArmed, vmaReason } from './reasons';
import { SCHEMA } from './schema';
import { cgroupSharing } from './cgroup-sharing';
import { boolArg, functionArg, intArg, objectArg, objectField, optional, optionsArg } from '../native/args';
import type { AccountJson, CgroupReport, FrameJson, HostJson, OtherHugeJson, OwnersJson, ProcessReport, SystemReport, ThpJson, TotalsJson, VmaJson } from './schema';
import { ownersTally } from './owners/tally';


/** The fields of a HostInfo-shaped object, each read once (a throwing getter is refused with a code). */
function fieldsOf<K extends string>(value: unknown, name: string, keys: readonly K[]): Record<K, unknown> {
  const o = objectArg(value, name);
  return Object.fromEntries(keys.map((k) => [k, objectField(o, k, name)])) as Record<K, unknown>;
}

export function hostJson(host: HostInfo): HostJson {
  const h = fieldsOf(host, 'h', ['kernel', 'arch', 'pageSize', 'pagemapScan']);
  return { kernel: h.kernel, arch: h.arch, pageSize: h.pageSize, pagemapScan: h.pagemapScan } as HostJson;
}

export function thpJson(host: HostInfo): ThpJson {
  const h = fieldsOf(host, 'h', ['thp', 'hugePageSize']);
  const thp = fieldsOf(h.thp, 'h.thp', ['enabled', 'defrag', 'khugepaged', 'sizes']);
  const khugepaged = fieldsOf(thp.khugepaged, 'h.thp.khugepaged', ['max_ptes_none']);
  return {
    enabled: thp.enabled ?? null,
    defrag: thp.defrag ?? null,
    hugePageSize: h.hugePageSize,
    maxPtesNone: khugepaged.max_ptes_none ?? null,
    khugepaged: thp.khugepaged,
    sizes: thp.sizes,
  } as ThpJson;
}

/**
 * "0x…" for an address. Number#toString(16) of a double above 2^31 takes V8's slow generic
 * path (0.5 µs; 60 000 VMAs have 120 000 addresses); two 24-bit halves stay small integers.
 */
export function hexAddress(n: number): string {
  const hi = Math.floor(n / 16777216);
  const lo = n - hi * 16777216;
  return hi ? `0x${hi.toString(16)}${lo.toString(16).padStart(6, '0')}` : `0x${lo.toString(16)}`;
}

interface Measured {
  /** Anonymous bytes on PMD huge pages by the report's method (PAGEMAP_SCAN or smaps). */
  huge: number;
  account: AccountJson;
  frames: FrameJson[];
}

function vmaJson(v: Vma, m: Measured, thpBySize: ThpBySize | null): VmaJson {
  return {
    start: hexAddress(v.start),
    end: hexAddress(v.end),
    size: v.end - v.start,
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
    thpBySize,
  };
}

function add(into: Partial<Record<Reason, number>>, reason: Reason, bytes: number): void {
  if (bytes > 0) into[reason] = (into[reason] ?? 0) + bytes;
}

/**
 * A VMA's share of the process's one PAGEMAP_SCAN walk: the triples [from, to) of `runs`
 * (start, end, huge 0|1; they may reach past the VMA and are clipped where read), and its huge
 * bytes less the excess the walk's cross-check found there.
 */
interface Share {
  runs: Float64Array;
  from: number;
  to: number;
  hugeBytes: number;
}

/**
 * One VMA's anonymous bytes in buckets. pmdMapped is smaps' AnonHugePages (exact for PMD-mapped
 * anonymous THP); the small rest goes to the VMA's reason, or, in an eligible anonymous VMA,
 * frame by frame from PAGEMAP_SCAN. Bytes the frames do not explain (the process changed
 * between the two reads) are `not-determined`, so the buckets always add up to Anonymous.
 * Frames are visited where the walk found present pages only, so a huge sparse reservation
 * costs what it holds, not what it spans.
 */
function measureVma(pid: number, v: Vma, ctx: ReasonContext, c: Share | undefined, thp: ThpPages): Measured {
  const anonymous = v.anonymous;
  const pmdMapped = Math.min(anonymous, v.anonHugePages);
  const reasons: Partial<Record<Reason, number>> = {};
  const frames: FrameJson[] = [];
  const whole = vmaReason(v, ctx);
  const anonVma = isAnonVma(v);
  let huge = v.anonHugePages;
  let pte: number | null;
  let fromFrames = 0;
  // A frame of a VMA-wide reason's VMA that has a reason of its own (userfaultfd: frameReasonUnder).
  let overridden = false;

  if (c && anonVma) {
    huge = c.hugeBytes;
    let ptePages: number | null = thp.ranges ? 0 : null;
    const h = ctx.hugePage;
    const { runs, to } = c;
    const small: number[] = [];
    let k = c.from;
    for (let pos = v.start; pos < v.end; ) {
      while (k < to && runs[k + 1] <= pos) k += 3;
      if (k >= to || runs[k] >= v.end) break;
      const base = Math.floor(Math.max(runs[k], pos) / h) * h;
      const lo = Math.max(base, v.start);
      const hi = Math.min(base + h, v.end);
      let present = 0;
      let hugeFrame = false;
      small.length = 0;
      for (let j = k; j < to && runs[j] < hi; j += 3) {
        const s = Math.max(runs[j], lo);
        const e = Math.min(runs[j + 1], hi);
        if (e <= s) continue;
        present += e - s;
        if (runs[j + 2] !== 1) small.push(s, e);
        else if (runs[j] <= base && runs[j + 1] >= base + h) hugeFrame = true;
      }
      pos = hi;
      if (hugeFrame || present === 0) continue;
      let inThp = 0;
      if (ptePages !== null && thp.ranges) {
        const o = overlapBytes(small, thp.ranges, thp.at);
        thp.at = o.next;
        inThp = o.bytes;
        ptePages += inThp;
      }
      // The frame's PTEs (empty, swapped, shared, uffd-wp) decide between khugepaged and
      // collapse only: read where no VMA-wide reason holds already, or where userfaultfd may
      // stop even the collapse a VMA-wide reason promises.
      const facts = !whole || uffdArmed(v) ? frameFactsFor(pid, v, base, ctx) : undefined;
      const reason = whole ? frameReasonUnder(whole, v, ctx, facts) : frameReason(v, base, present, ctx, facts);
      if (reason !== whole) overridden = true;
      frames.push({ start: hexAddress(base), present, reason });
      add(reasons, reason, present - inThp);
      fromFrames += present - inThp;
    }
    pte = ptePages;
  } else if (anonVma && thp.visible) {
    // No per-frame truth: every THP page kpageflags sees, less the PMD-mapped ones smaps counts.
    const t = thpRanges(pid, [v.start, v.end]);
    const bytes = t && overlapBytes([v.start, v.end], t, 0).bytes;
    pte = bytes === undefined ? null : Math.max(0, Math.min(anonymous - pmdMapped, bytes - pmdMapped));
  } else {
    // Copy-on-write pages of a file mapping are order-0 pages; with no PFNs we cannot say.
    pte = anonVma ? null : 0;
  }

  const smallBytes = Math.max(0, anonymous - pmdMapped - (pte ?? 0));
  if (whole !== undefined && !overridden) {
    // A VMA-wide reason holds for every small byte, whatever the walk saw of them: a process
    // that changed between reading smaps and the walk (one reading itself, say) changes nothing.
    for (const r of Object.keys(reasons)) delete reasons[r as Reason];
    add(reasons, whole, smallBytes);
  } else if (!frames.length && smallBytes > 0) add(reasons, v.thpEligible === false ? 'kernel-ineligible' : 'not-determined', smallBytes);
  else if (fromFrames !== smallBytes) {
    // The process changed between reading smaps and scanning: keep the sum exact and say so.
    if (fromFrames < smallBytes) add(reasons, 'not-determined', smallBytes - fromFrames);
    else trim(reasons, fromFrames - smallBytes);
  }
  return { huge, account: { anonymous, pmdMapped, pteMappedThp: pte, small: smallBytes, reasons }, frames };
}

/**
 * The PTE facts of the frame at `base`, for its reason. Zero-page PTEs look shared in pagemap and
 * count as empty to khugepaged; telling them apart costs a kpageflags read per shared page
 * (root only), so it is paid only where it could change the reason: enough shared PTEs to pass
 * max_ptes_shared or, counted empty, max_ptes_none, or a userfaultfd-armed VMA (holes).
 */
export function frameFactsFor(pid: number, v: Vma, base: number, ctx: ReasonContext): FrameFacts | undefined {
  const options = { hugePage: ctx.hugePage, pageSize: ctx.pageSize };
  const f = readFrameFacts(pid, base, base + ctx.hugePage, options)?.[0];
  if (!f || f.shared === 0) return f;
  const matters = f.shared > (ctx.maxPtesShared ?? 256) || f.none + f.shared > ctx.maxPtesNone || uffdArmed(v);
  return matters ? (readFrameFacts(pid, base, base + ctx.hugePage, { ...options, zero: true })?.[0] ?? f) : f;
}

/**
 * THP pages mapped by PTEs, for one batch: `ranges` (start, end pairs from kpageflags, read once
 * for every small run the walk found; undefined when hidden or not read) and a cursor that only
 * moves forward, since frames are measured in address order. `visible`: frame numbers can be
 * read at all (root), for the per-VMA reads of a report without a walk.
 */
interface ThpPages {
  visible: boolean;
  ranges: Float64Array | undefined;
  at: number;
}

/** The walk's small-page runs (huge 0), as start, end pairs. */
function smallRuns(runs: Float64Array): Float64Array {
  let n = 0;
  for (let i = 0; i < runs.length; i += 3) if (runs[i + 2] !== 1) n += 2;
  const out = new Float64Array(n);
  let k = 0;
  for (let i = 0; i < runs.length; i += 3) {
    if (runs[i + 2] === 1) continue;
    out[k++] = runs[i];
    out[k++] = runs[i + 1];
  }
  return out;
}

/** A VMA's file THP bytes mapped by PMD (FilePmdMapped + ShmemPmdMapped). */
function filePmdOf(v: Vma): number {
  const fields = v as unknown as Record<string, number | undefined>;
  return (fields.filePmdMapped ?? 0) + (fields.shmemPmdMapped ?? 0);
}

/** A VMA's THPs by size without its PMD-mapped ones (smaps' counters for it, as thpmaps); hugePage 0: none were read. */
function vmaBySize(v: Vma, got: ThpBySize | undefined, hugePage: number): ThpBySize {
  const s = { ...got };
  if (!hugePage) return s;
  withoutPmdMapped(s, 'anon', v.anonHugePages, hugePage);
  withoutPmdMapped(s, 'file', filePmdOf(v), hugePage);
  return s;
}

/**
 * The process's THPs by size: those of the VMAs the report kept (`bySize`) and of its
 * file-backed VMAs without anonymous memory (large page-cache folios), less `filePmd`, their
 * FilePmdMapped and ShmemPmdMapped. null where frame numbers turn out hidden; the VMAs kept
 * alone where maps cannot be read (the process exited meanwhile).
 */
function withFileVmas(pid: number, bySize: ThpBySize, kept: ReadonlySet<number>, filePmd: number, pageSize: number, hugePage: number): ThpBySize | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/maps`, 'latin1');
  } catch {
    return bySize;
  }
  const pairs = fileVmas(text, kept);
  const triples = new Float64Array((pairs.length / 2) * 3);
  for (let i = 0; i < pairs.length / 2; i++) triples.set([pairs[2 * i], pairs[2 * i + 1], i], 3 * i);
  const got = thpFolios(pid, triples, pageSize);
  if (!got) return triples.length ? null : bySize;
  const files: ThpBySize = {};
  for (const s of got.values()) addBySize(files, s);
  withoutPmdMapped(files, 'file', filePmd, hugePage);
  addBySize(bySize, files);
  return bySize;
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

/** Add one account into a running sum (pteMappedThp null once any part is null). */
function addAccount(into: AccountJson, a: AccountJson): void {
  into.anonymous += a.anonymous;
  into.pmdMapped += a.pmdMapped;
  into.pteMappedThp = into.pteMappedThp === null || a.pteMappedThp === null ? null : into.pteMappedThp + a.pteMappedThp;
  into.small += a.small;
  for (const r in a.reasons) add(into.reasons, r as Reason, a.reasons[r as Reason]!);
}

/** From smaps fields summed over every VMA of the process (ProcessMemory.sums). */
function otherHuge(sums: Record<string, number>): OtherHugeJson {
  const total = (k: string): number => sums[k] ?? 0;
  return { filePmdMapped: total('filePmdMapped'), shmemPmdMapped: total('shmemPmdMapped'), privateHugetlb: total('privateHugetlb'), sharedHugetlb: total('sharedHugetlb') };
}

/** A process report without its VMAs and totals: who was read, on what host, by which method. */
export type ProcessReportHead = Omit<ProcessReport, 'vmas' | 'totals'>;

/**
 * The smaps fields a report reads per VMA; the addon keeps no other (they are still summed, for
 * rss and otherHuge). Size is end - start. PMD_FIELDS: what the walk's cross-check reads, kept
 * only where it runs (coverage.ts pmdBytes).
 */
const REPORT_FIELDS = ['rss', 'anonymous', 'anonHugePages', 'swap'] as const;
const PMD_FIELDS = ['shmemPmdMapped', 'filePmdMapped', 'privateHugetlb', 'sharedHugetlb'] as const;
/** What THPs by size take out of the PMD order's file count (thp-sizes.ts). */
const FILE_PMD_FIELDS = ['shmemPmdMapped', 'filePmdMapped'] as const;

/**
 * One process, streamed: `head` once, then `vma` for every VMA holding anonymous memory, in
 * address order, each built, handed over and dropped (a writer that does not keep them holds
 * one at a time); returns the totals. `exact`: PAGEMAP_SCAN where the kernel has it.
 */
export function streamProcessReport(
  pid: number,
  opts: { exact: boolean; seen?: boolean; owners?: boolean },
  sinkArg: { head(h: ProcessReportHead): void; vma(v: VmaJson): void; owners?(o: OwnersJson): void },
): TotalsJson {
  intArg(pid, 'pid', 1, 2 ** 31 - 1);
  const options = reportOptions(opts);
  objectArg(sinkArg, 'sink');
  const [head, vma] = (['head', 'vma'] as const).map((k) => functionArg(objectField(sinkArg, k, 'sink'), `sink.${k}`));
  const ownersFn = optional(objectField(sinkArg, 'owners', 'sink'), functionArg, 'sink.owners');
  const sink = {
    head: (h: ProcessReportHead) => head.call(sinkArg, h),
    vma: (v: VmaJson) => vma.call(sinkArg, v),
    owners: ownersFn ? (o: OwnersJson) => ownersFn.call(sinkArg, o) : undefined,
  };
  const host = hostInfo();
  const method = options.exact && host.pagemapScan ? 'pagemap_scan' : 'smaps';
  const walking = method === 'pagemap_scan' && host.hugePageSize > 0;
  // The walk's smaps cross-check (kernels 6.7-6.15) needs each VMA's PMD counters.
  const crossCheck = walking && mayMisreportZeroPage();
  const totals: TotalsJson = {
    rss: 0,
    anonymous: 0,
    anonHugePages: 0,
    coverage: 0,
    eligibleNotHuge: 0,
    noHugePage: 0,
    account: { anonymous: 0, pmdMapped: 0, pteMappedThp: 0, small: 0, reasons: {} },
    otherHuge: otherHuge({}),
  };
  let ctx: ReasonContext | undefined;
  // Who made each VMA: read before the smaps stream (its maps, first words, threads).
  const owners = options.owners === false ? undefined : ownersTally(pid);
  // PTE-mapped THP: with a walk, one read per batch (undefined where frame numbers are hidden);
  // without one, per VMA, where a first empty read shows the frame numbers are visible at all.
  const visible = !walking && thpRanges(pid, new Float64Array(0)) !== undefined;
  // THPs by folio size over the VMAs kept (null once frame numbers show hidden); their starts
  // and file PMD-mapped bytes, for the file-backed VMAs read after them.
  let bySize: ThpBySize | null = {};
  const kept = new Set<number>();
  let keptFilePmd = 0;
  // Only VMAs holding anonymous memory are kept, with only the fields read below; the totals
  // come from the addon's sums. Batches come while the addon reads the rest of the file.
  const { sums } = streamProcess(
    pid,
    options.seen ?? false,
    { minAnonymous: 1, fields: crossCheck ? [...REPORT_FIELDS, ...PMD_FIELDS] : [...REPORT_FIELDS, ...FILE_PMD_FIELDS] },
    (p) => {
      ctx = reasonContext(host, p.thpDisabled);
      sink.head({ schema: SCHEMA, kind: 'process', time: new Date().toISOString(), pid, comm: p.comm, host: hostJson(host), thp: thpJson(host), thpDisabled: p.thpDisabled ?? null, method });
    },
    (flat) => {
      // One walk over the batch's span; each private anonymous VMA takes its runs by merge.
      const span = walking ? flatSpan(flat) : undefined;
      let vmas: Vma[] | undefined;
      if (span && crossCheck) eachVma(flat, (v) => (vmas ??= []).push(v));
      const walk = span ? scanFlat(pid, span[0], span[1], vmas) : undefined;
      const excess = new Map(walk?.excess.map((e) => [e.start, e.bytes]));
      // Which of the walk's small pages are THP mapped by PTEs: one read for the batch.
      const thp: ThpPages = { visible, ranges: walk ? thpRanges(pid, smallRuns(walk.runs)) : undefined, at: 0 };
      const runs = walk?.runs ?? new Float64Array(0);
      // THPs by folio size: one read for the batch's VMAs (undefined where frame numbers are
      // hidden), of the THP pages just found where there was a walk (no PMD-mapped ones then).
      const sizes = bySize === null || (walk && !thp.ranges) ? undefined : vmaFolios(pid, flatBounds(flat), thp.ranges, ctx!.pageSize);
      if (!sizes) bySize = null;
      let r = 0;
      let index = 0;
      eachVma(flat, (v) => {
        let share: Share | undefined;
        if (walk && isAnonVma(v)) {
          // A run may span two adjacent VMAs (the kernel joins equal labels): pass only runs ending at or before this VMA.
          while (r < runs.length && runs[r + 1] <= v.start) r += 3;
          let k = r;
          let hugeBytes = 0;
          for (; k < runs.length && runs[k] < v.end; k += 3) if (runs[k + 2] === 1) hugeBytes += Math.min(runs[k + 1], v.end) - Math.max(runs[k], v.start);
          share = { runs, from: r, to: k, hugeBytes: hugeBytes - (excess.get(v.start) ?? 0) };
        }
        const mine = sizes ? vmaBySize(v, sizes.get(index), walk ? 0 : ctx!.hugePage) : null;
        if (mine && bySize) addBySize(bySize, mine);
        kept.add(v.start);
        keptFilePmd += filePmdOf(v);
        index++;
        const j = vmaJson(v, measureVma(pid, v, ctx!, share, thp), mine);
        if (owners) j.owner = owners.add(v, j);
        totals.anonymous += j.anonymous;
        totals.anonHugePages += j.anonHugePages;
        totals.eligibleNotHuge += j.eligibleNotHuge;
        if (j.vmFlags.includes('nh')) totals.noHugePage += j.anonymous;
        addAccount(totals.account, j.account);
        sink.vma(j);
      });
    },
  );
  totals.rss = sums.rss ?? 0;
  totals.otherHuge = otherHuge(sums);
  totals.thpBySize = bySize && withFileVmas(pid, bySize, kept, (sums.filePmdMapped ?? 0) + (sums.shmemPmdMapped ?? 0) - keptFilePmd, host.pageSize, host.hugePageSize);
  totals.coverage = coverageRatio(totals.anonHugePages, totals.anonymous);
  if (owners) sink.owners?.(owners.json());
  return totals;
}

/** A process report's options, copied and checked: `exact` is required. */
function reportOptions(value: unknown): { exact: boolean; seen?: boolean; owners?: boolean } {
  const o = optionsArg<{ exact: boolean; seen?: boolean; owners?: boolean }>(value, 'options', ['exact', 'seen', 'owners']);
  return { exact: boolArg(o.exact, 'options.exact'), seen: optional(o.seen, boolArg, 'options.seen'), owners: optional(o.owners, boolArg, 'options.owners') };
}

/** One process's report as one value (streamProcessReport, every VMA kept). */
export function processReport(pid: number, opts: { exact: boolean; seen?: boolean; owners?: boolean }): ProcessReport {
  intArg(pid, 'pid', 1, 2 ** 31 - 1);
  const options = reportOptions(opts);
  let head: ProcessReportHead | undefined;
  let owners: OwnersJson | undefined;
  const vmas: VmaJson[] = [];
  const totals = streamProcessReport(pid, options, { head: (h) => (head = h), vma: (v) => vmas.push(v), owners: (o) => (owners = o) });
  return { ...head!, vmas, totals, ...(owners ? { owners } : {}) };
}

/** How many processes the system report ranks without --all. */
const TOP_PROCESSES = 10;

export function systemReport(opts: { all: boolean }): SystemReport {
  const o = optionsArg<{ all: boolean }>(opts, 'options', ['all']);
  const options = { all: boolArg(o.all, 'options.all') };
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
  const pids = cgroupPids(path);
  const { processes, unreadable } = summarizeProcesses(pids);
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
    sharing: cgroupSharing(processes, anonymous),
  };
}
