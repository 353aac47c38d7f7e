/**
 * Every policy on the model: random alloc/free/scavenge/GC with the heap's invariants and
 * count == recount after every op, then each policy's own promise: density and filler never mark
 * NOHUGEPAGE and release only what their rules allow, filler packs small spans into one huge page
 * and releases whole empty huge pages only, hpa hugifies a dense slab after its delay and
 * dehugifies it before purging.
 */
import { POLICY_NAMES } from '../../src/heap/policy';
import { Rand } from '../../src/heap/rand';
import type { Span } from '../../src/heap/span';
import { GcModel } from '../../src/heap/gc';
import { KiB, MiB, rig } from './helpers';

const H = 2 * MiB;
const P = 8192;

describe.each(POLICY_NAMES)('policy %s', (policy) => {
  it('keeps the heap invariants and count == recount over 1 500 random ops with GC cycles', () => {
    const { heap } = rig({ policy, arenaBytes: 128 * MiB });
    const gc = new GcModel(heap);
    const rand = new Rand(policy.length * 7919);
    const live: Span[] = [];
    for (let op = 0; op < 1500; op++) {
      heap.tick(op * 20);
      const r = rand.float();
      if (r < 0.55 || live.length === 0) {
        try {
          const s = heap.alloc(rand.float() < 0.8 ? 1 + rand.int(32) : 33 + rand.int(400));
          live.push(s);
          if (gc.allocated(s)) gc.cycle();
        } catch (e) {
          expect((e as { code?: string }).code).toBe('ERR_HUGESPAN_ARENA_EXHAUSTED');
          gc.cycle();
        }
      } else if (r < 0.95) {
        const k = rand.int(live.length);
        gc.died(live[k]);
        live[k] = live[live.length - 1];
        live.pop();
      } else {
        heap.scavenge(rand.int(8 * MiB));
      }
      heap.checkInvariants();
    }
  });
});

describe('policy specifics', () => {
  it('density: every grown chunk is hg at once, and sysUnused marks no nh', () => {
    const { heap, mem, sys } = rig({ policy: 'density' }, {}, { thp: 'host' });
    const a = heap.alloc(3);
    expect(mem.framesMarked('hg', heap.arenaBase, heap.heapSys)).toBe(heap.heapSys / H);
    heap.alloc(1);
    heap.free(a);
    heap.gcDone();
    heap.scavenge(P);
    expect(sys.calls.nohugepage).toBe(0);
    expect(heap.heapReleased).toBeGreaterThan(0);
  });

  it('density: a chunk ≥ 96.875 % in use at the last GC is not scavenged', () => {
    const { heap } = rig({ policy: 'density' });
    const big = heap.alloc(508); // 4 MiB chunk 0: 508 of 512 pages
    heap.gcDone();
    const before = heap.heapReleased;
    heap.free(big);
    expect(heap.scavenge(64 * MiB)).toBeGreaterThanOrEqual(0);
    // Chunk 0 was dense at the last GC: nothing in it was released.
    expect(heap.dirtyIn(heap.arenaBase, heap.arenaBase + 4 * MiB)).toBe(508 * P);
    expect(heap.heapReleased).toBeGreaterThanOrEqual(before);
  });

  it('filler: small spans share one huge page; only whole empty huge pages are released', () => {
    const { heap, sys } = rig({ policy: 'filler' });
    const spans = Array.from({ length: 10 }, () => heap.alloc(4));
    const frames = new Set(spans.map((s) => Math.floor((s.base - heap.arenaBase) / H)));
    expect(frames.size).toBe(1);
    const big = heap.alloc(256); // a whole huge page, aligned, then empty and dirty
    expect((big.base - heap.arenaBase) % H).toBe(0);
    heap.free(big);
    heap.free(spans[3]);
    expect(heap.scavenge(P)).toBe(H); // not the hole in frame 0: the empty frame, whole
    expect(sys.calls.nohugepage).toBe(0);
    expect(heap.dirtyIn(heap.arenaBase, heap.arenaBase + H)).toBe(4 * P); // the hole stays dirty
  });

  it('hpa: a slab ≥ 95 % in use for 10 s is hugified (hugepage + collapse); purging dehugifies it first', () => {
    const { heap, sys, mem } = rig({ policy: 'hpa' }, {}, { thp: 'host' });
    const spans = Array.from({ length: 32 }, () => heap.alloc(8)); // 32 × 64 KiB (hpa_slab_max_alloc) = one full slab
    heap.tick(0);
    expect(sys.calls.hugepage).toBe(0);
    heap.tick(9_999);
    expect(sys.calls.hugepage).toBe(0);
    heap.tick(10_000);
    expect([sys.calls.hugepage, sys.calls.collapse]).toEqual([1, 1]);
    expect(mem.frameFlags(heap.arenaBase)).toBe('hg');
    heap.free(spans[0]);
    heap.free(spans[1]);
    heap.scavenge(64 * MiB);
    expect(mem.frameFlags(heap.arenaBase)).toBe('nh');
    heap.checkInvariants();
  });

  it('hpa as jemalloc 5.3: a request over hpa_slab_max_alloc (64 KiB) is the page allocator\'s, outside every slab, never hugified', () => {
    const { heap, sys } = rig({ policy: 'hpa' }, {}, { thp: 'host' });
    const small = heap.alloc(1); // a slab's
    const big = heap.alloc(9); // 72 KiB: the PAC's, in a frame no slab uses
    const H = 2 * MiB;
    const frame = (x: { base: number }) => Math.floor((x.base - heap.arenaBase) / H);
    expect(frame(big)).not.toBe(frame(small));
    // Slab allocations keep out of the PAC's frame; filling it to 100 % never hugifies it.
    const more = Array.from({ length: 40 }, () => heap.alloc(8));
    expect(more.filter((x) => frame(x) === frame(big))).toEqual([]);
    const rest = Array.from({ length: 25 }, () => heap.alloc(9)); // 25 × 72 KiB more PAC extents
    heap.tick(0);
    heap.tick(60_000);
    const pacFrames = new Set([big, ...rest].map(frame));
    expect(sys.calls.hugepage).toBeLessThanOrEqual(new Set(more.map(frame)).size); // only slabs were hugified
    expect([...pacFrames].some((f) => more.some((x) => frame(x) === f))).toBe(false);
    heap.checkInvariants();
  });

  it('hpa as jemalloc 5.3: hpa_dirty_mult purges the slabs\' dirty memory above 25 % of their active memory, at each tick', () => {
    const { heap } = rig({ policy: 'hpa' }, {}, { thp: 'host' });
    const spans = Array.from({ length: 64 }, () => heap.alloc(8)); // two full slabs (4 MiB active)
    for (const x of spans.slice(0, 40)) heap.free(x); // 2.5 MiB dirty, 1.5 MiB active
    const released = heap.heapReleased;
    heap.tick(1);
    const active = 24 * 8 * 8 * KiB;
    expect(heap.heapReleased - released).toBeGreaterThanOrEqual(2.5 * MiB - 0.25 * active);
    expect(heap.heapFree).toBeLessThanOrEqual(0.25 * active + 2 * MiB); // the rest: whole slabs at a time
    heap.checkInvariants();
  });

  it('hpa as jemalloc 5.3: dropping below 95 % keeps the slab eligible; a change while ≥ 95 % resets its timestamp; emptying it clears it', () => {
    // Below 95 % after becoming eligible: still hugified when the delay has passed.
    {
      const { heap, sys } = rig({ policy: 'hpa' }, {}, { thp: 'host' });
      const spans = Array.from({ length: 32 }, () => heap.alloc(8)); // one full slab, eligible at 0
      heap.tick(5_000);
      // The first free leaves 96.9 % (a change while ≥ 95 %: the timestamp is now 5 s), the rest
      // take it to 87.5 %: jemalloc keeps hugify_allowed, so it is hugified 10 s after 5 s.
      for (const x of spans.slice(0, 4)) heap.free(x);
      heap.tick(14_999);
      expect(sys.calls.hugepage).toBe(0);
      heap.tick(15_000);
      expect(sys.calls.hugepage).toBe(1);
      heap.checkInvariants();
    }
    // A change while ≥ 95 % resets the timestamp: the delay counts from the last one.
    {
      const { heap, sys } = rig({ policy: 'hpa' }, {}, { thp: 'host' });
      Array.from({ length: 30 }, () => heap.alloc(8));
      Array.from({ length: 15 }, () => heap.alloc(1)); // 255 of 256 pages: eligible at 0
      heap.tick(5_000);
      heap.alloc(1); // the slab's last page, at 5 s: allowed again, from now
      heap.tick(10_000);
      expect(sys.calls.hugepage).toBe(0);
      heap.tick(15_000);
      expect(sys.calls.hugepage).toBe(1);
      heap.checkInvariants();
    }
    // Emptied before the delay: not hugified.
    {
      const { heap, sys } = rig({ policy: 'hpa' }, {}, { thp: 'host' });
      const spans = Array.from({ length: 32 }, () => heap.alloc(8));
      heap.tick(5_000);
      spans.forEach((x) => heap.free(x));
      heap.tick(20_000);
      expect(sys.calls.hugepage).toBe(0);
      heap.checkInvariants();
    }
  });
});
