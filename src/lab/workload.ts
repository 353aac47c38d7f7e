/**
 * The lab's churn: a seeded sequence of allocations of mixed sizes and deaths (a span the
 * program stops referencing; the next GC cycle's sweep frees it) that is identical for every
 * policy, so any difference in the results is the policy's. Scavenging is not an op: the
 * runtime's background scavenger runs on the program's clock and the heap scavenges on
 * allocation, as Go 1.13 does.
 * Invariant: the ops depend only on (seed, ops, arena size), never on what the heap did —
 * except that a free always names a span that is live in that run.
 */
import { Rand } from '../heap/rand';

/** alloc: a new span; free: the span at `pick` in the live list dies; gc: a forced cycle (runtime.GC()). */
export type Op = { kind: 'alloc'; npages: number } | { kind: 'free'; pick: number } | { kind: 'gc' };

export interface WorkloadOptions {
  ops: number;
  seed: number;
  /** Heap pages the live set may hold at most; above it the workload frees instead. */
  maxLivePages: number;
}

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
export function* churn(opts: WorkloadOptions, live: { spans: number; pages: number }): Generator<Op> {
  const rand = new Rand(opts.seed);
  for (let i = 0; i < opts.ops; i++) {
    const wantFree = live.spans > 0 && (live.pages > opts.maxLivePages * 0.8 || rand.float() < 0.45);
    const npages = size(rand); // drawn either way: the sequence must not depend on the heap
    const pick = rand.next();
    if (wantFree) yield { kind: 'free', pick: pick % live.spans };
    else yield { kind: 'alloc', npages };
  }
}
