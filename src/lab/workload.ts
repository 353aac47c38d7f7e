/**
 * The lab's workloads: seeded sequences of allocations of mixed sizes and deaths (a span the
 * program stops referencing; the next GC cycle's sweep frees it), identical for every policy, so
 * any difference in the results is the policy's. Scavenging is not an op: the runtime's
 * background scavenger runs on the program's clock and the heap scavenges on allocation, as
 * Go 1.13 does.
 * Invariant: the ops depend only on (workload, seed, ops, arena size), never on what the heap
 * did — except that a free always names a span that is live in that run, and the balance of
 * frees and allocations follows the live set the caller reports.
 */
import { Rand } from '../heap/rand';

/**
 * alloc: a new span (`id`: the trace's name for it, when replaying one); free: the span at
 * `pick` in the live list dies, or the live span named `id` (replay); gc: a forced cycle
 * (runtime.GC()).
 */
export type Op =
  | { kind: 'alloc'; npages: number; id?: number }
  | { kind: 'free'; pick: number }
  | { kind: 'free'; id: number }
  | { kind: 'gc' };

export interface WorkloadOptions {
  ops: number;
  seed: number;
  /** Heap pages the live set may hold at most; above it the workload frees instead. */
  maxLivePages: number;
}

/** The caller's count of live spans and pages, updated after each op. */
export interface LiveCount {
  spans: number;
  pages: number;
}

export type Workload = (opts: WorkloadOptions, live: LiveCount) => Generator<Op>;

/** Sizes as a Go program makes them: mostly small, some medium, a few large (runtime pages). */
function size(rand: Rand): number {
  const p = rand.float();
  if (p < 0.7) return 1 + rand.int(8);
  if (p < 0.93) return 9 + rand.int(120);
  return 129 + rand.int(384);
}

/**
 * Yields the ops. `live` is the caller's count of live spans and pages, updated by the caller
 * after each op, so the free/alloc balance tracks the real live set.
 */
export function* churn(opts: WorkloadOptions, live: LiveCount): Generator<Op> {
  const rand = new Rand(opts.seed);
  for (let i = 0; i < opts.ops; i++) {
    const wantFree = live.spans > 0 && (live.pages > opts.maxLivePages * 0.8 || rand.float() < 0.45);
    const npages = size(rand); // drawn either way: the sequence must not depend on the heap
    const pick = rand.next();
    if (wantFree) yield { kind: 'free', pick: pick % live.spans };
    else yield { kind: 'alloc', npages };
  }
}

/**
 * A server: many small spans (1–4 pages, rarely up to 16), a live set that grows to about half
 * of what the arena allows and then holds there. Turnover is slow: most deaths are
 * request-scoped spans among the newest few percent of the live list (the swap-remove list keeps
 * recent allocations at its end), and only one death in five reaches the long-lived core.
 */
export function* steady(opts: WorkloadOptions, live: LiveCount): Generator<Op> {
  const rand = new Rand(opts.seed);
  const target = opts.maxLivePages * 0.5;
  for (let i = 0; i < opts.ops; i++) {
    const p = rand.float();
    const npages = p < 0.9 ? 1 + rand.int(4) : 5 + rand.int(12);
    const young = rand.float() < 0.8;
    const pick = rand.next();
    const coin = rand.float();
    // Below the target the server mostly allocates (warm-up); at it, allocs and frees balance.
    const wantFree = live.spans > 0 && (live.pages > target ? coin < 0.55 : coin < 0.1);
    if (!wantFree) {
      yield { kind: 'alloc', npages };
      continue;
    }
    const window = Math.max(1, Math.ceil(live.spans * 0.05));
    yield { kind: 'free', pick: young ? live.spans - 1 - (pick % window) : pick % live.spans };
  }
}

/**
 * A phase change: grow to a peak (allocate-heavy, up to 80 % of what the arena allows), free
 * most of it (down to a fifth of the peak), a forced GC as a program does between phases, then
 * grow again. Phases are by op index (40 % / 20 % / 40 %), so the shape does not depend on the
 * heap; the bounds only stop a phase from overshooting.
 */
export function* phase(opts: WorkloadOptions, live: LiveCount): Generator<Op> {
  const rand = new Rand(opts.seed);
  const peakEnd = Math.floor(opts.ops * 0.4);
  const dropEnd = Math.floor(opts.ops * 0.6);
  let peak = 0;
  for (let i = 0; i < opts.ops; i++) {
    const npages = size(rand);
    const pick = rand.next();
    const coin = rand.float();
    if (i === dropEnd) {
      yield { kind: 'gc' };
      continue;
    }
    peak = Math.max(peak, live.pages);
    let wantFree: boolean;
    if (i < peakEnd || i > dropEnd) wantFree = live.pages > opts.maxLivePages * 0.8 || coin < 0.15;
    else wantFree = live.pages > peak * 0.2 && coin < 0.95;
    if (wantFree && live.spans > 0) yield { kind: 'free', pick: pick % live.spans };
    else yield { kind: 'alloc', npages };
  }
}

export const WORKLOADS = { churn, steady, phase } as const satisfies Record<string, Workload>;
export type WorkloadName = keyof typeof WORKLOADS;
export const WORKLOAD_NAMES = Object.keys(WORKLOADS) as WorkloadName[];
export function isWorkloadName(s: string): s is WorkloadName {
  return Object.prototype.hasOwnProperty.call(WORKLOADS, s);
}
