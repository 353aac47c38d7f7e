/**
 * Invariants under churn: thousands of seeded random alloc / free / scavenge operations per seed,
 * with checkInvariants() after every one, on several host shapes. A failure names the seed and the
 * operation index, so `replay(config, seed, ops)` reproduces it exactly.
 */
import type { MHeapOptions } from '../../src/heap/mheap';
import { Rand } from '../../src/heap/rand';
import type { Span } from '../../src/heap/span';
import type { FakeMemoryOptions } from '../../src/sys/fake';
import { KiB, MiB, rig } from './helpers';

interface Config {
  name: string;
  heap: MHeapOptions;
  mem: FakeMemoryOptions;
}

const CONFIGS: Config[] = [
  { name: 'x86-64, coalesce', heap: { arenaBytes: 32 * MiB, growBytes: 4 * MiB }, mem: {} },
  { name: 'x86-64, none', heap: { arenaBytes: 32 * MiB, growBytes: 4 * MiB, policy: 'none' }, mem: {} },
  { name: 'no huge pages', heap: { arenaBytes: 32 * MiB, growBytes: 4 * MiB }, mem: { physHugePageSize: 0 } },
  {
    name: '64 KiB OS pages, 512 MiB huge pages',
    heap: { arenaBytes: 1024 * MiB, growBytes: 512 * MiB },
    mem: { physPageSize: 64 * KiB, physHugePageSize: 512 * MiB },
  },
];
const SEEDS = [1, 2, 3, 4];
const OPS = 2500;

/** Run `ops` random operations; returns the heap's final snapshot and OS calls. */
function replay(config: Config, seed: number, ops: number) {
  const { heap, sys, mem } = rig({ ...config.heap, seed }, config.mem);
  const rand = new Rand(seed);
  const live: Span[] = [];
  const maxPages = Math.max(1, (8 * MiB) / heap.pageSize);
  for (let i = 0; i < ops; i++) {
    const roll = rand.int(100);
    let op = '';
    try {
      if (roll < 45) {
        // Mostly small spans, some around a huge page, a few large.
        const size = rand.int(20);
        const npages = 1 + (size < 14 ? rand.int(16) : size < 19 ? rand.int(512) : rand.int(maxPages));
        op = `alloc(${npages})`;
        try {
          const s = heap.alloc(npages);
          if (mem.committedBytes(s.base, s.bytes) !== s.bytes) throw new Error('the span handed out is not all committed');
          live.push(s);
        } catch (e) {
          if ((e as { code?: string }).code !== 'ERR_HUGESPAN_ARENA_EXHAUSTED') throw e;
        }
      } else if (roll < 88 && live.length > 0) {
        const s = live.splice(rand.int(live.length), 1)[0];
        op = `free(${s.npages} pages at +0x${(s.base - heap.arenaBase).toString(16)})`;
        heap.free(s);
      } else if (roll < 98) {
        const nbytes = rand.int(4 * MiB);
        op = `scavenge(${nbytes})`;
        heap.scavenge(nbytes);
      } else {
        op = 'scavengeAll()';
        heap.scavengeAll();
      }
      heap.checkInvariants();
    } catch (e) {
      throw new Error(`${config.name}, seed ${seed}, op #${i} ${op}: ${(e as Error).message}`);
    }
  }
  const { policy, ...snapshot } = heap.snapshot();
  return { snapshot, calls: sys.snapshotCalls(), policy };
}

describe.each(CONFIGS)('churn on $name', (config) => {
  it.each(SEEDS)(`seed %i: ${OPS} random operations keep every invariant`, (seed) => {
    replay(config, seed, OPS);
  });
});

it('the two policies differ in MADV_HUGEPAGE calls only: same spans, counters and other calls', () => {
  const [coalesce, none] = [CONFIGS[0], CONFIGS[1]].map((c) => replay(c, 9, OPS));
  expect(none.snapshot).toEqual(coalesce.snapshot);
  expect({ ...none.calls, hugepage: 0 }).toEqual({ ...coalesce.calls, hugepage: 0 });
  expect(coalesce.calls.hugepage).toBeGreaterThan(none.calls.hugepage);
});
