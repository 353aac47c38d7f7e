/**
 * The allocator under torture: a long seeded run of allocations (some too large for the arena),
 * frees, scavenges and deliberate misuse (double frees, stale and foreign spans, bad sizes).
 * Invariant checked after every op: the heap's own invariants hold (tiling, coalescing,
 * incremental count = recount, treap summaries), and every refusal left the heap's snapshot
 * exactly as it was. A failure names the seed and op so the run can be replayed.
 */
import { MHeap } from '../heap/mheap';
import type { Span } from '../heap/span';
import { Rand } from '../heap/rand';
import { Sys } from '../sys/sys';
import { FakeMemory } from '../sys/fake';
import type { Memory } from '../sys/memory';

export interface StressOptions {
  ops: number;
  seed: number;
  /** Small arenas exhaust often: the point is to cross the edge many times. */
  arenaBytes?: number;
  /** Real memory or the bookkeeping model (default). */
  memory?: () => Memory & { close?(): void };
  /** Check invariants after every op (default) or every n-th. */
  checkEvery?: number;
}

export interface StressResult {
  ops: number;
  allocs: number;
  frees: number;
  scavenges: number;
  /** Refusals by error code, each checked to have changed nothing. */
  refusals: Record<string, number>;
  recoveries: number;
  maxSpans: number;
  checks: number;
}

const BAD_SIZES: unknown[] = [0, -1, 1.5, NaN, Infinity, '8', null, 2 ** 53];

export function stress(opts: StressOptions): StressResult {
  const mem: Memory & { close?(): void } = opts.memory ? opts.memory() : new FakeMemory();
  const arenaBytes = opts.arenaBytes ?? 32 << 20;
  const heap = new MHeap(new Sys(mem, { thp: 'always' }), { arenaBytes, growBytes: Math.min(8 << 20, arenaBytes), policy: opts.seed % 2 ? 'coalesce' : 'none' });
  const other = new MHeap(new Sys(new FakeMemory(), {}), { arenaBytes: 8 << 20 });
  const foreign = other.alloc(1);
  const rand = new Rand(opts.seed);
  const live: Span[] = [];
  const dead: Span[] = []; // freed span objects: freeing one again must be refused
  const result: StressResult = { ops: 0, allocs: 0, frees: 0, scavenges: 0, refusals: {}, recoveries: 0, maxSpans: 0, checks: 0 };
  const maxPages = arenaBytes / heap.pageSize;
  let exhausted = false;

  // A call the heap must refuse: it throws, and the heap is exactly as it was.
  const refused = (what: string, call: () => unknown) => {
    const before = JSON.stringify(heap.snapshot());
    try {
      call();
    } catch (e) {
      const code = String((e as { code?: string }).code);
      if (JSON.stringify(heap.snapshot()) !== before) throw new Error(`${what} was refused (${code}) but changed the heap`);
      result.refusals[code] = (result.refusals[code] ?? 0) + 1;
      return code;
    }
    throw new Error(`${what} was not refused`);
  };

  try {
    for (let op = 0; op < opts.ops; op++) {
      const p = rand.float();
      const where = `seed ${opts.seed}, op #${op}`;
      try {
        if (p < 0.45) {
          // Mostly small, some large, a few larger than what is left: exhaustion, then recovery.
          const q = rand.float();
          const npages = q < 0.8 ? 1 + rand.int(32) : q < 0.98 ? 32 + rand.int(512) : 1 + rand.int(maxPages);
          try {
            live.push(heap.alloc(npages));
            result.allocs++;
            if (exhausted) result.recoveries++;
            exhausted = false;
          } catch (e) {
            if ((e as { code?: string }).code !== 'ERR_HUGESPAN_ARENA_EXHAUSTED') throw e;
            exhausted = true;
            refused(`alloc(${npages})`, () => heap.alloc(npages)); // and again: still nothing changes
          }
        } else if (p < 0.9 && live.length) {
          const k = rand.int(live.length);
          const s = live[k];
          live[k] = live[live.length - 1];
          live.pop();
          heap.free(s);
          dead.push(s);
          if (dead.length > 64) dead.shift();
          result.frees++;
        } else if (p < 0.95) {
          heap.scavenge(rand.int(4 << 20));
          result.scavenges++;
        } else if (p < 0.96) {
          heap.scavengeAll();
          result.scavenges++;
        } else {
          const r = rand.int(3);
          if (r === 0 && dead.length) refused('free of a freed span', () => heap.free(dead[rand.int(dead.length)]));
          else if (r === 1) refused('free of a foreign span', () => heap.free(foreign));
          else refused('alloc of a bad size', () => heap.alloc(BAD_SIZES[rand.int(BAD_SIZES.length)] as number));
        }
        result.ops++;
        if (op % (opts.checkEvery ?? 1) === 0) {
          heap.checkInvariants();
          result.checks++;
        }
        result.maxSpans = Math.max(result.maxSpans, live.length);
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}`);
      }
    }
    return result;
  } finally {
    heap.close();
    mem.close?.();
  }
}
