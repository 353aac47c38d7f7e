/**
 * The lab's churn: a seeded sequence of allocations of mixed sizes, frees and scavenges that
 * is identical for every policy, so any difference in the results is the policy's.
 * Invariant: the ops depend only on (seed, ops, arena size), never on what the heap did —
 * except that a free always names a span that is live in that run.
 */
import { Rand } from '../heap/rand';

export type Op = { kind: 'alloc'; npages: number } | { kind: 'free'; pick: number } | { kind: 'scavenge' };

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
    if (i > 0 && i % 250 === 0) {
      yield { kind: 'scavenge' };
      continue;
    }
    const wantFree = live.spans > 0 && (live.pages > opts.maxLivePages * 0.8 || rand.float() < 0.45);
    const npages = size(rand); // drawn either way: the sequence must not depend on the heap
    const pick = rand.next();
    if (wantFree) yield { kind: 'free', pick: pick % live.spans };
    else yield { kind: 'alloc', npages };
  }
}
