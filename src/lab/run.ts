/**
 * One lab run: a span heap on real memory under a workload (churn, steady, phase, or a replayed
 * trace), with the Go 1.13 runtime
 * around it — a GC cycle paced by GOGC (src/heap/gc.ts) that sweeps the spans the program let
 * die, the background scavenger paced to 1.1 × next_gc on the program's clock, and the heap's
 * own scavenge on allocation from scavenged memory — then a last forced cycle after half the live
 * spans die, the collapse pass (what khugepaged would do), the verification against the kernel,
 * and random reads over the live memory. Invariant: every run maps its own arena and unmaps it
 * before returning.
 *
 * The program's clock: each op of the workload is `msPerOp` (default 1 ms) of program time, the
 * time base of the scavenger's 1 %-of-a-CPU pace. Nothing here sleeps: the scavenger's steps run
 * between ops, when the clock reaches them.
 */
import { MHeap, CoalescePolicy } from '../heap/mheap';
import { PageHeap } from '../heap/pageheap';
import { PageSpans } from '../heap/pagespans';
import type { HeapSpan, RuntimeHeap } from '../heap/runtime-heap';
import { Sys, SysCalls } from '../sys/sys';
import { LinuxMemory } from '../sys/linux';
import { Mapping } from '../native/mapping';
import { verify, collapse, Verification, CollapseResult } from '../verify';
import { WORKLOADS, WorkloadName } from './workload';
import { replay, TraceEvent } from './trace';
import { GO_EVENT, GoTrace, goTraceArg } from './go-trace';
import { Rand } from '../heap/rand';
import { GcModel } from '../heap/gc';
import { readFileSync } from 'node:fs';

const VMSTAT_KEYS = ['thp_fault_alloc', 'thp_fault_fallback', 'compact_stall', 'thp_collapse_alloc'] as const;
type Vmstat = Record<(typeof VMSTAT_KEYS)[number], number>;

/** The THP counters of /proc/vmstat (system-wide: other processes add to them too). */
function vmstat(): Vmstat {
  const out = Object.fromEntries(VMSTAT_KEYS.map((k) => [k, 0])) as Vmstat;
  try {
    for (const line of readFileSync('/proc/vmstat', 'utf8').split('\n')) {
      const [k, v] = line.split(' ');
      if ((VMSTAT_KEYS as readonly string[]).includes(k)) out[k as keyof Vmstat] = Number(v);
    }
  } catch {
    // no /proc/vmstat: zeros
  }
  return out;
}

import { BackgroundScavenger } from '../heap/scavenger';
import { POLICY_NAMES, defaultRelease } from '../heap/policy';
import { Khugepaged, KhugepagedStats } from './khugepaged';
import { sample, steadyState, arenaLazyFree, Sample, SteadyState } from './series';
import { adviceLatency, AdviceLatency } from './latency';
import { WORKLOAD_NAMES } from './workload';
import { functionArg, intArg, numberArg, oneOfArg, optional, optionsArg, stringArg } from '../native/args';

const LAB_KEYS = ['policy', 'heap', 'thp', 'arenaBytes', 'ops', 'seed', 'pageSize', 'reads', 'gogc', 'release', 'msPerOp', 'timeScale', 'workload', 'trace', 'khugepaged', 'samples'] as const;

/** The lab's options, copied and checked before anything is mapped; sizes the heaps check themselves. */
function labOptions(value: unknown): LabOptions {
  const o = optionsArg<LabOptions>(value, 'options', LAB_KEYS);
  return {
    policy: oneOfArg(o.policy, 'options.policy', POLICY_NAMES),
    heap: optional(o.heap, (v, n) => oneOfArg(v, n, HEAP_KINDS), 'options.heap'),
    thp: oneOfArg(o.thp, 'options.thp', ['always', 'host'] as const),
    arenaBytes: intArg(o.arenaBytes, 'options.arenaBytes', 1, 2 ** 40),
    ops: intArg(o.ops, 'options.ops', 0, 2 ** 31),
    seed: intArg(o.seed, 'options.seed', 0, 2 ** 32 - 1),
    pageSize: optional(o.pageSize, (v, n) => intArg(v, n, 1, 2 ** 30), 'options.pageSize'),
    reads: optional(o.reads, (v, n) => intArg(v, n, 0, 2 ** 31), 'options.reads'),
    gogc: optional(o.gogc, (v, n) => intArg(v, n, -1, 2 ** 31), 'options.gogc'),
    release: optional(o.release, (v, n) => oneOfArg(v, n, RELEASES), 'options.release'),
    msPerOp: optional(o.msPerOp, (v, n) => numberArg(v, n, 0, 1e9), 'options.msPerOp'),
    timeScale: optional(o.timeScale, (v, n) => numberArg(v, n, 1e-6, 1e6), 'options.timeScale'),
    workload: optional(o.workload, (v, n) => oneOfArg(v, n, [...WORKLOAD_NAMES, 'trace' as const, 'go-trace' as const]), 'options.workload'),
    trace: optional(o.trace, stringArg, 'options.trace'),
    khugepaged: optional(o.khugepaged, (v, n) => oneOfArg(v, n, KHUGEPAGED_MODES), 'options.khugepaged'),
    samples: optional(o.samples, (v, n) => intArg(v, n, 0, 100_000), 'options.samples'),
  };
}

function labIO(value: unknown): LabIO {
  const o = optionsArg<LabIO>(value, 'io', ['events', 'record', 'goTrace']);
  if (o.events !== undefined && !Array.isArray(o.events)) throw Object.assign(new TypeError('The "io.events" property must be an array of trace events'), { code: 'ERR_INVALID_ARG_TYPE' });
  return { events: o.events, record: optional(o.record, functionArg, 'io.record') as LabIO['record'], goTrace: optional(o.goTrace, goTraceArg, 'io.goTrace') };
}

/**
 * What stands in for khugepaged: none (absent: the policy's own huge pages only), pass (after the
 * run, MADV_COLLAPSE every frame khugepaged could ever pick, at once: an upper bound, not
 * khugepaged), model (src/lab/khugepaged.ts: its budget per scan on the program clock, the
 * young-page rule, max_ptes_none).
 */
export type KhugepagedMode = 'none' | 'pass' | 'model';
export const KHUGEPAGED_MODES: readonly KhugepagedMode[] = ['none', 'pass', 'model'];
/** sysUnused's advice: MADV_FREE, MADV_DONTNEED, or the default of the allocator the policy models. */
export type ReleaseChoice = 'free' | 'dontneed' | 'default';
export const RELEASES: readonly ReleaseChoice[] = ['free', 'dontneed', 'default'];

/** The release advice a run uses: the choice, or its allocator's default (the page heap: Go 1.14's MADV_FREE). */
export function releaseFor(options: Pick<LabOptions, 'release' | 'heap' | 'policy'>): 'free' | 'dontneed' {
  const r = options.release ?? 'default';
  if (r !== 'default') return r;
  return (options.heap ?? 'treap') === 'pagealloc' ? 'free' : defaultRelease(options.policy);
}

/** Which heap the lab runs: the Go 1.13 span heap (treap free set) or the Go 1.14-style page heap. */
export type HeapKind = 'treap' | 'pagealloc';
export const HEAP_KINDS: readonly HeapKind[] = ['treap', 'pagealloc'];

export interface LabOptions {
  /** The treap heap's huge-page policy; the page heap has one of its own (see src/heap/pageheap.ts) and ignores it. */
  policy: CoalescePolicy;
  /** The heap (default treap). */
  heap?: HeapKind;
  thp: 'always' | 'host';
  arenaBytes: number;
  ops: number;
  seed: number;
  pageSize?: number;
  /** Random 8-byte reads over the live memory at the end. */
  reads?: number;
  /** GOGC (default 100). */
  gogc?: number;
  /** sysUnused's release advice (default 'default': the modelled allocator's, see releaseFor). */
  release?: ReleaseChoice;
  /** What stands in for khugepaged (default 'pass'). */
  khugepaged?: KhugepagedMode;
  /** Samples of the arena taken through the workload (default 100; 0: none). */
  samples?: number;
  /** Program time per workload op, ms (default 1). */
  msPerOp?: number;
  /** A Go trace's time multiplied by this (default 1): the method's clock, varied to show what it adds. */
  timeScale?: number;
  /** The workload (default churn); 'trace' replays the events given to prepareLab, 'go-trace' a Go program's (io.goTrace). */
  workload?: WorkloadName | 'trace' | 'go-trace';
  /** The trace's file name, for the report (the events come in LabIO). */
  trace?: string;
}

/** What a run reads and writes besides its options (kept out of LabOptions, which the report prints). */
export interface LabIO {
  /** The validated events of a trace (parseTrace), replayed when workload is 'trace'. */
  events?: readonly TraceEvent[];
  /** Called with every op as run, as a trace event: what `--record` writes. */
  record?: (e: TraceEvent) => void;
  /** A Go program's span events (go-trace.ts), replayed on its own clock when workload is 'go-trace'. */
  goTrace?: GoTrace;
}

/**
 * How a Go trace's replay kept to the trace: at each GC cycle's start, the heap's in-use pages
 * against the trace's own (equal unless the arena refused an alloc).
 */
export interface GoTraceCheck {
  gcs: number;
  equalAtGc: number;
  /** The first cycle where they differed: [cycle, trace pages, heap pages]. */
  firstDiff: [number, number, number] | null;
  /**
   * An independent check that no heap span is missing from the events: the heap spans' bytes
   * over the runtime's own heapLive (HeapAlloc) at each GC start, least and most. Never below 1
   * when nothing is missing (heapLive counts spans handed to mcaches, less their free slots).
   */
  spansOverHeapLive: [number, number] | null;
  /** Events Go's tracer did not write (go-trace.ts). */
  unrecorded: { frees: number; impliedFrees: number };
}

/** The runtime around the heap, as the run ended. */
export interface RuntimeStats {
  gcCycles: number;
  /** heap_marked of the last cycle. */
  marked: number;
  nextGC: number;
  /** The scavenger's retained goal: 1.1 × next_gc. */
  retainedGoal: number;
  /** Released by the background scavenger / by the heap on allocation (scavengeIfNeededLocked). */
  released: { background: number; onAlloc: number };
  /** Program time the workload took. */
  clockMs: number;
  /** A Go trace's replay against the trace (null for the generated workloads). */
  goTrace: GoTraceCheck | null;
}

export interface LabResult {
  options: LabOptions;
  ops: { allocs: number; frees: number; scavenges: number; exhausted: number };
  runtime: RuntimeStats;
  heap: { heapSys: number; heapInuse: number; heapReleased: number; retained: number; freeHugePages: number; liveSpans: number };
  calls: SysCalls;
  /** madvise calls (every advice, MADV_COLLAPSE included) per alloc+free pair of the workload. */
  madvisePerPair: number;
  collapse: CollapseResult;
  /** After the collapse pass. */
  verification: Verification;
  /** ns per random 8-byte read over in-use memory (median of three rounds). */
  readNs: number;
  /**
   * The same reads over one raw mapping of the in-use size, advised hugepage (all huge where the
   * host gives them) and nohugepage (all 4 KiB), in the same process: what the policy's reads
   * are worth between the two extremes.
   */
  rawReadNs: { huge: number; small: number };
  /** The release advice this run used (the option resolved). */
  release: 'free' | 'dontneed';
  /** khugepaged's stand-in, and the model's counters when it ran. */
  khugepaged: { mode: KhugepagedMode; model: KhugepagedStats | null };
  /** Share of in-use bytes on huge pages at the end, before the collapse pass: the policy's own (with the khugepaged model, its work included). */
  inUseHugeShareBefore: number;
  /** Share of in-use bytes on huge pages, after the collapse pass (= before without one). */
  inUseHugeShare: number;
  /** Arena RSS (kernel) over heap in use: the overhead. */
  rssOverInUse: number;
  /** Arena LazyFree (smaps) at the end, and RSS − LazyFree: what memory pressure could not take back at once. */
  lazyFree: number;
  rssMinusLazyFree: number;
  /** Samples through the workload, and the medians over its second half. */
  series: Sample[];
  steady: SteadyState;
  /**
   * The free huge page count against the kernel at every sample (before any collapse pass):
   * against the frames it may back (the seed's question) and those it backs now; samples where
   * the count was over, and by how much at most.
   */
  countOverRun: { samples: number; overEligible: number; maxOverEligible: number; overBacked: number; maxOverBacked: number };
  /** The heap's madvise calls (MADV_COLLAPSE included) during the workload: total time and size-matched classes, ns. */
  adviceLatencyNs: AdviceLatency;
  /** /proc/vmstat deltas over the workload and the collapse pass (system-wide). */
  vmstat: Vmstat;
  /** Wall time: the workload (samples excluded), the collapse pass, the verification, the reads, the samples. */
  ms: { workload: number; collapse: number; verify: number; reads: number; samples: number };
}

/** A lab heap after the churn, the sweep, the collapse pass and the verification, still mapped. */
export interface PreparedLab {
  mem: LinuxMemory;
  heap: RuntimeHeap;
  /** The spans still in use. */
  live: HeapSpan[];
  ops: LabResult['ops'];
  runtime: RuntimeStats;
  vmstat: Vmstat;
  collapse: CollapseResult;
  verification: Verification;
  release: 'free' | 'dontneed';
  khugepaged: LabResult['khugepaged'];
  series: Sample[];
  /** The arena right after the final sweep, before the collapse pass. */
  before: Sample;
  ms: { workload: number; collapse: number; verify: number; samples: number };
  /** Unmap the arena (idempotent). */
  close(): void;
}

/**
 * The lab's steps up to the verification, leaving the heap mapped for whoever measures it
 * next (runLab's reads, the benchmarks' interleaved reads). The caller must close() it.
 */
export function prepareLab(opts: LabOptions, progress?: (done: number, total: number) => void, ioArg?: LabIO): PreparedLab {
  const options = labOptions(opts);
  optional(progress, functionArg, 'progress');
  const io = labIO(ioArg);
  const workload = options.workload ?? 'churn';
  if (workload === 'trace' && !io.events) throw new Error('prepareLab: workload trace without events');
  if (workload === 'go-trace' && !io.goTrace) throw new Error('prepareLab: workload go-trace without io.goTrace');
  const mem = new LinuxMemory();
  try {
    const vm0 = vmstat();
    const release = releaseFor(options);
    const sys = new Sys(mem, { thp: options.thp, release });
    const shape = { arenaBytes: options.arenaBytes, growBytes: Math.min(64 << 20, options.arenaBytes), pageSize: io.goTrace?.pageSize ?? options.pageSize ?? 8192 };
    const heap: RuntimeHeap =
      (options.heap ?? 'treap') === 'pagealloc' ? new PageSpans(new PageHeap(sys, shape)) : new MHeap(sys, { ...shape, policy: options.policy });
    heap.sys.timed = true;
    const khMode = options.khugepaged ?? 'pass';
    const kh = khMode === 'model' ? new Khugepaged(heap) : undefined;
    const series: Sample[] = [];
    let sampleMs = 0;
    const takeSample = (op: number) => {
      const t = performance.now();
      const x = sample(heap, clock, op);
      sampleMs += performance.now() - t;
      return x;
    };
    const live: HeapSpan[] = [];
    // Each live span's id, parallel to `live` (swap-removed with it), and where an id sits: a
    // trace frees by id, the generated workloads by position, and a recording names both by id.
    const ids: number[] = [];
    const where = new Map<number, number>();
    let nextId = 0;
    const record = io.record;
    const count = { spans: 0, pages: 0 };
    const ops = { allocs: 0, frees: 0, scavenges: 0, exhausted: 0 };
    // A quarter of the arena live at most: with GOGC=100 the heap holds up to twice the live set
    // (garbage waits for the next cycle's sweep), plus fragmentation.
    const maxLivePages = Math.floor((options.arenaBytes * 0.25) / heap.pageSize);
    const msPerOp = options.msPerOp ?? 1;

    let clock = 0;
    let wake = 0; // when the scavenger's current sleep ends
    const scav = new BackgroundScavenger(heap, { heapGoal: 0, now: () => clock });
    const gc = new GcModel(heap, { gogc: options.gogc });
    gc.onPace((nextGC) => {
      scav.pace(nextGC); // gcPaceScavenger, which wakes the scavenger
      wake = clock;
    });
    const runScavenger = () => {
      // Every step the clock has reached; a yield (sleep 0) runs the next one at once.
      for (let k = 0; k < 1000 && !scav.parked && wake <= clock; k++) {
        const step = scav.step();
        ops.scavenges += step.released > 0 ? 1 : 0;
        if (step.parked) break;
        wake = clock + step.sleepMs;
      }
    };

    /** Take the live span at `at` out of the live set (swap-remove, keeping `where` right). */
    const dropLive = (at: number): HeapSpan => {
      const s = live[at];
      where.delete(ids[at]);
      live[at] = live[live.length - 1];
      ids[at] = ids[ids.length - 1];
      live.pop();
      ids.pop();
      if (at < live.length) where.set(ids[at], at);
      return s;
    };
    /** A new span in the live set, written as a program writes what it allocates; null when the arena refuses it. */
    const allocLive = (npages: number, id: number): HeapSpan | null => {
      try {
        const s = heap.alloc(npages);
        mem.touch(s.base, s.bytes);
        kh?.touched(s.base, s.bytes);
        where.set(id, live.length);
        ids.push(id);
        live.push(s);
        count.pages += s.npages;
        ops.allocs++;
        return s;
      } catch (e) {
        if ((e as { code?: string }).code !== 'ERR_HUGESPAN_ARENA_EXHAUSTED') throw e;
        ops.exhausted++;
        return null;
      }
    };

    const t0 = performance.now();
    let i = 0;
    const total = workload === 'trace' ? io.events!.length : workload === 'go-trace' ? io.goTrace!.count : options.ops;
    const nSamples = options.samples ?? 100;
    const every = nSamples > 0 ? Math.max(1, Math.ceil(total / nSamples)) : Infinity;
    let done = 0;
    const after = () => {
      heap.tick(clock);
      runScavenger();
      kh?.tick(clock);
      count.spans = live.length;
      if (++done % every === 0) series.push(takeSample(done));
      if (progress && ++i % 256 === 0) progress(i, total);
    };
    let check: GoTraceCheck | null = null;
    let goal = 0;
    if (workload === 'go-trace') {
      // A Go program's own events on its own clock: frees are the sweeper's (at once), GC cycles
      // and heap goals are the trace's, and the scavenger is paced by the trace's goals.
      const g = io.goTrace!;
      const scale = options.timeScale ?? 1;
      check = { gcs: 0, equalAtGc: 0, firstDiff: null, spansOverHeapLive: null, unrecorded: { ...g.unrecorded } };
      let tracePages = 0;
      let heapSpanBytes = 0; // spans of the heap proper (class != 1: not stacks)
      let heapLive = 0;
      const pagesOf = new Map<number, number>();
      const heapSpan = new Set<number>();
      for (let k = 0; k < g.count; k++) {
        clock = (g.t[k] / 1e6) * scale;
        const id = g.id[k];
        switch (g.kind[k]) {
          case GO_EVENT.alloc:
            pagesOf.set(id, g.pages[k]);
            tracePages += g.pages[k];
            if (g.cls[k] !== 1) {
              heapSpan.add(id);
              heapSpanBytes += g.pages[k] * g.pageSize;
            }
            allocLive(g.pages[k], id);
            break;
          case GO_EVENT.free: {
            tracePages -= pagesOf.get(id) ?? 0;
            if (heapSpan.delete(id)) heapSpanBytes -= (pagesOf.get(id) ?? 0) * g.pageSize;
            pagesOf.delete(id);
            const at = where.get(id);
            if (at !== undefined) {
              const s = dropLive(at);
              heap.free(s);
              count.pages -= s.npages;
              ops.frees++;
            }
            break;
          }
          case GO_EVENT.gcBegin: {
            check.gcs++;
            const mine = heap.heapInuse / heap.pageSize;
            if (mine === tracePages) check.equalAtGc++;
            else check.firstDiff ??= [check.gcs, tracePages, mine];
            if (heapLive > 0) {
              const r = heapSpanBytes / heapLive;
              check.spansOverHeapLive = check.spansOverHeapLive ? [Math.min(check.spansOverHeapLive[0], r), Math.max(check.spansOverHeapLive[1], r)] : [r, r];
            }
            break;
          }
          case GO_EVENT.heapLive:
            heapLive = g.value[k];
            break;
          case GO_EVENT.heapGoal:
            goal = g.value[k];
            scav.pace(goal); // gcPaceScavenger, which wakes the scavenger
            wake = clock;
            break;
        }
        after();
      }
    } else {
      const stream = workload === 'trace' ? replay(io.events!) : WORKLOADS[workload]({ ops: options.ops, seed: options.seed, maxLivePages }, count);
      for (const op of stream) {
        clock += msPerOp;
        if (op.kind === 'alloc') {
          const id = op.id ?? nextId++;
          // Recorded even when the arena refuses it: the replay, on the same arena, is refused too.
          record?.({ op: 'alloc', id, pages: op.npages });
          const s = allocLive(op.npages, id);
          if (s && gc.allocated(s)) gc.cycle();
        } else if (op.kind === 'free') {
          const at = 'pick' in op ? op.pick : where.get(op.id);
          // A trace's free of a span whose alloc this arena refused: the span never existed here.
          if (at !== undefined) {
            record?.({ op: 'free', id: ids[at] });
            const s = dropLive(at);
            gc.died(s); // freed by the next cycle's sweep
            count.pages -= s.npages;
            ops.frees++;
          }
        } else {
          record?.({ op: 'gc' });
          gc.cycle();
        }
        after();
      }
      // The run ends with a forced GC cycle after about half of the live spans die at once. The
      // sweep coalesces them into large free spans, and the heap's freeHugePages (what the
      // scavenger paces by) is read right then — where the seed's policy matters. (A Go trace
      // ends as the program did.)
      const sweep = new Rand(options.seed ^ 0x5eed);
      for (let k = live.length - 1; k >= 0; k--) {
        if (sweep.float() < 0.5) continue;
        gc.died(dropLive(k));
        ops.frees++;
      }
      gc.cycle();
    }
    heap.tick(clock);
    progress?.(total, total);
    const runtime: RuntimeStats = {
      gcCycles: check ? check.gcs : gc.cycles,
      marked: check ? 0 : gc.marked,
      nextGC: check ? goal : gc.nextGC,
      retainedGoal: scav.retainedGoal,
      released: { background: scav.released, onAlloc: heap.releasedOnAlloc },
      clockMs: clock,
      goTrace: check,
    };
    const t1 = performance.now();

    heap.sys.timed = false;
    const before = takeSample(done);
    const pass: CollapseResult = khMode === 'pass' ? collapse(heap) : { frames: 0, already: 0, collapsed: 0, refused: { nh: 0, notEligible: 0, notResident: 0, kernel: {} }, ms: 0 };
    const t2 = performance.now();
    const vm1 = vmstat();
    const vmDelta = Object.fromEntries(VMSTAT_KEYS.map((k) => [k, vm1[k] - vm0[k]])) as Vmstat;
    const verification = verify(heap);
    const t3 = performance.now();

    heap.checkInvariants(); // the lab's numbers mean nothing from a heap that broke its own rules
    return {
      mem,
      heap,
      live,
      ops,
      runtime,
      vmstat: vmDelta,
      collapse: pass,
      verification,
      release,
      khugepaged: { mode: khMode, model: kh ? kh.stats : null },
      series,
      before,
      ms: { workload: t1 - t0 - sampleMs, collapse: t2 - t1, verify: t3 - t2, samples: sampleMs },
      close: () => mem.close(),
    };
  } catch (e) {
    mem.close();
    throw e;
  }
}

/** Median ns per read of three rounds over a fresh mapping of `bytes`, advised `advice`. */
function rawReads(bytes: number, advice: 'hugepage' | 'nohugepage', reads: number, seed: number): number {
  if (bytes === 0) return 0;
  const H = 2 << 20;
  const m = new Mapping(Math.ceil(bytes / H) * H, { align: 'hugepage', commit: true });
  try {
    m.advise(advice);
    m.touch();
    const ns = [1, 2, 3].map((k) => {
      const r = Mapping.randomReads([[m, 0, Math.ceil(bytes / 4096) * 4096]], reads, seed + k);
      return r.ns / r.reads;
    });
    return ns.sort((a, b) => a - b)[1];
  } finally {
    m.unmap();
  }
}

export function runLab(options: LabOptions, progress?: (done: number, total: number) => void, io: LabIO = {}): LabResult {
  const lab = prepareLab(options, progress, io);
  try {
    const { mem, heap, live, ops, verification } = lab;
    // Median of three rounds: one round can land on a noisy moment of a shared machine.
    const t0 = performance.now();
    const ranges = live.map((s) => [s.base, s.bytes] as const);
    const reads = options.reads ?? 1_000_000;
    const rounds = ranges.length ? [1, 2, 3].map((k) => mem.randomReads(ranges, reads, options.seed + k)) : [{ ns: 0, reads: 1 }];
    const readNs = rounds.map((r) => r.ns / r.reads).sort((a, b) => a - b)[rounds.length >> 1];
    const inUse = ranges.reduce((n, r) => n + r[1], 0);
    const rawReadNs = { huge: rawReads(inUse, 'hugepage', reads, options.seed), small: rawReads(inUse, 'nohugepage', reads, options.seed) };
    const t1 = performance.now();

    const calls = { ...heap.sys.calls };
    // The heap's own calls; the collapse pass is counted in `collapse`, not here.
    const madvise = calls.hugepage + calls.nohugepage + calls.dontneed + calls.free + calls.willneed + calls.normal + calls.collapse;
    const lc = heap.sys.latencyCalls();
    const lazyFree = arenaLazyFree(heap.arenaBase, heap.arenaBase + heap.heapSys);
    return {
      options,
      ops,
      runtime: lab.runtime,
      heap: {
        heapSys: heap.heapSys,
        heapInuse: heap.heapInuse,
        heapReleased: heap.heapReleased,
        retained: heap.retained,
        freeHugePages: heap.freeHugePages,
        liveSpans: live.length,
      },
      calls,
      madvisePerPair: madvise / Math.max(1, Math.min(ops.allocs, ops.frees)),
      collapse: lab.collapse,
      verification,
      readNs,
      rawReadNs,
      release: lab.release,
      khugepaged: lab.khugepaged,
      inUseHugeShareBefore: lab.before.inUseHugeShare,
      inUseHugeShare: heap.heapInuse ? verification.inUse.hugeBytes / heap.heapInuse : 0,
      rssOverInUse: heap.heapInuse ? verification.arena.rss / heap.heapInuse : 0,
      lazyFree,
      rssMinusLazyFree: verification.arena.rss - lazyFree,
      series: lab.series,
      steady: steadyState(lab.series),
      countOverRun: {
        samples: lab.series.length,
        overEligible: lab.series.filter((x) => x.countMinusEligible > 0).length,
        maxOverEligible: Math.max(0, ...lab.series.map((x) => x.countMinusEligible)),
        overBacked: lab.series.filter((x) => x.countMinusTruth > 0).length,
        maxOverBacked: Math.max(0, ...lab.series.map((x) => x.countMinusTruth)),
      },
      adviceLatencyNs: adviceLatency(heap.sys.latencies(), lc.bytes, lc.advice),
      vmstat: lab.vmstat,
      ms: { ...lab.ms, reads: t1 - t0 },
    };
  } finally {
    lab.close();
  }
}
