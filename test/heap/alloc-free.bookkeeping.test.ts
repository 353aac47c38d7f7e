/**
 * Allocation and freeing follow Go 1.13: first fit at the lowest address, splits keep the
 * remainder's scavenged flag, growth adds scavenged memory, sysUsed only on scavenged pieces,
 * freed spans coalesce with same-state neighbours only, and the counters follow.
 */
import { MHeap } from '../../src/heap/mheap';
import { Span } from '../../src/heap/span';
import { FakeMemory } from '../../src/sys/fake';
import { Sys } from '../../src/sys/sys';
import { KiB, MiB, rig, thrown } from './helpers';

const H = 2 * MiB;
const P = 8 * KiB;

describe('MHeap options', () => {
  it('defaults to an 8 KiB page (the OS page if larger), 1 GiB arena, 64 MiB growth, coalesce policy', () => {
    const heap = new MHeap(new Sys(new FakeMemory()));
    expect([heap.pageSize, heap.arenaBytes, heap.growBytes, heap.policy]).toEqual([8 * KiB, 1024 * MiB, 64 * MiB, 'coalesce']);
    expect(heap.arenaBase % H).toBe(0);
    const armMemory = new FakeMemory({ physPageSize: 64 * KiB, physHugePageSize: 512 * MiB });
    const arm = new MHeap(new Sys(armMemory), { growBytes: 512 * MiB });
    expect(arm.pageSize).toBe(64 * KiB);
  });

  it('rounds the arena up to whole huge pages', () => {
    expect(rig({ arenaBytes: 5 * MiB, growBytes: 2 * MiB }).heap.arenaBytes).toBe(6 * MiB);
  });

  it.each([
    ['a page size that is not a power of two', { pageSize: 12 * KiB }, {}],
    ['a page size below the OS page', { pageSize: 8 * KiB }, { physPageSize: 64 * KiB, physHugePageSize: 512 * MiB }],
    ['growth that is not whole huge pages', { growBytes: 3 * MiB }, {}],
    ['a zero arena', { arenaBytes: 0 }, {}],
    ['an unknown policy', { policy: 'eager' as never }, {}],
  ])('refuses %s', (_, heapOpts, memOpts) => {
    const e = thrown(() => rig(heapOpts, memOpts));
    expect([e.name, e.code]).toEqual(['RangeError', 'ERR_INVALID_ARG_VALUE']);
  });
});

describe('alloc', () => {
  it('grows on first use: the arena is mapped in growBytes chunks of scavenged memory', () => {
    const { heap, sys } = rig();
    expect(heap.heapSys).toBe(0);
    const s = heap.alloc(4);
    expect(sys.calls.commit).toBe(1);
    expect([s.base, s.npages, s.state, s.scavenged]).toEqual([heap.arenaBase, 4, 'inUse', false]);
    expect(heap.heapSys).toBe(16 * MiB);
    expect(heap.heapInuse).toBe(4 * P);
    expect(heap.heapReleased).toBe(16 * MiB - 4 * P);
    expect(heap.heapFree).toBe(0);
    expect(heap.snapshot().spans).toEqual([
      { base: heap.arenaBase, npages: 4, state: 'inUse', scavenged: false },
      { base: heap.arenaBase + 4 * P, npages: 16 * MiB / P - 4, state: 'free', scavenged: true },
    ]);
    heap.checkInvariants();
  });

  it('is first fit: the lowest-addressed free span that is large enough', () => {
    const { heap } = rig();
    const [a, b, c, d, e] = [8, 4, 8, 16, 8].map((n) => heap.alloc(n));
    // Read the bases now: a freed span object is the heap's again, and splitting moves it.
    const [holeB, holeD] = [b.base, d.base];
    heap.free(b);
    heap.free(d);
    expect(heap.alloc(2).base).toBe(holeB);
    expect(heap.alloc(3).base).toBe(holeD); // b's remainder holds only 2 pages
    expect(heap.alloc(2).base).toBe(holeB + 2 * P);
    expect([a, c, e].every((s) => s.state === 'inUse')).toBe(true);
    heap.checkInvariants();
  });

  it('splits off the low pages; the remainder keeps its scavenged flag', () => {
    const { heap } = rig();
    const [, b] = [heap.alloc(8), heap.alloc(10), heap.alloc(8)];
    const base = b.base;
    heap.free(b);
    heap.alloc(3);
    const rest = heap.spanOf(base + 3 * P)!;
    expect([rest.base, rest.npages, rest.state, rest.scavenged]).toEqual([base + 3 * P, 7, 'free', false]);
    heap.scavengeAll();
    heap.alloc(2);
    const scavRest = heap.spanOf(base + 5 * P)!;
    expect([scavRest.npages, scavRest.state, scavRest.scavenged]).toEqual([5, 'free', true]);
    heap.checkInvariants();
  });

  it('calls sysUsed only for pieces that were scavenged', () => {
    const { heap, sys } = rig();
    const used = jest.spyOn(sys, 'sysUsed');
    const a = heap.alloc(300);
    expect(used).toHaveBeenLastCalledWith(a.base, 300 * P);
    heap.alloc(1);
    heap.free(a);
    used.mockClear();
    heap.alloc(300);
    expect(used).not.toHaveBeenCalled();
    heap.scavengeAll();
    heap.alloc(300);
    expect(used).toHaveBeenCalledTimes(1);
  });

  it('grows again when nothing fits; the new chunk coalesces with a scavenged top span', () => {
    const { heap, sys } = rig({ growBytes: 4 * MiB });
    heap.alloc(256); // 2 MiB, leaving 2 MiB scavenged at the top
    const big = heap.alloc(384); // 3 MiB: grows by 4 MiB, which merges with the 2 MiB left
    expect(sys.calls.commit).toBe(2);
    expect(big.base).toBe(heap.arenaBase + 2 * MiB);
    expect(heap.heapSys).toBe(8 * MiB);
    expect(heap.heapReleased).toBe(3 * MiB);
    heap.checkInvariants();
  });

  it('maps what a request needs, beyond one growBytes chunk, up to the whole arena', () => {
    const { heap } = rig({ arenaBytes: 20 * MiB, growBytes: 8 * MiB });
    heap.alloc(1);
    heap.alloc(10 * MiB / P); // 10 MiB rounds up to two 8 MiB chunks, capped by the 12 MiB left
    expect(heap.heapSys).toBe(20 * MiB);
    heap.checkInvariants();
  });
});

describe('free and coalesce', () => {
  it('merges with free neighbours in the same scavenged state, and only those', () => {
    const { heap } = rig();
    const [a, b, c, d] = [4, 4, 4, 4].map((n) => heap.alloc(n));
    heap.free(a);
    heap.scavengeAll(); // a becomes scavenged (and so does the top)
    heap.free(c);
    heap.free(b); // b merges with c (both unscavenged), not with scavenged a
    const spans = heap.snapshot().spans.map(({ npages, state, scavenged }) => [npages, state, scavenged]);
    expect(spans.slice(0, 3)).toEqual([[4, 'free', true], [8, 'free', false], [4, 'inUse', false]]);
    expect(b.state).toBe('free');
    expect(c.state).toBe('dead');
    expect(heap.heapFree).toBe(8 * P);
    heap.free(d); // d's upper neighbour is the scavenged top: no merge
    expect(heap.snapshot().spans.length).toBe(3);
    heap.checkInvariants();
  });

  it('keeps freeHugePages incrementally equal to the recount', () => {
    const { heap } = rig();
    const spans = [100, 300, 600, 50, 900].map((n) => heap.alloc(n));
    for (const s of [spans[1], spans[3], spans[2], spans[0]]) {
      heap.free(s);
      expect(heap.freeHugePages).toBe(heap.recountFreeHugePages());
    }
    // Free now: pages [0, 1050), 8.2 MiB from an aligned base: 4 whole huge pages.
    expect(heap.freeHugePages).toBe(4);
  });
});

describe('spanOf, spans, snapshot, close', () => {
  it('finds the live span for any mapped address, in use or free', () => {
    const { heap } = rig();
    const [a, b] = [heap.alloc(10), heap.alloc(10), heap.alloc(10)];
    heap.free(b);
    heap.free(a); // a absorbs b
    expect(heap.spanOf(b.base + 5 * P)).toBe(a);
    expect(heap.spanOf(a.base + 20 * P + 123)?.npages).toBe(10);
    expect(heap.spanOf(heap.arenaBase + 15 * MiB)?.scavenged).toBe(true);
    expect(heap.spanOf(heap.arenaBase - 1)).toBeUndefined();
    expect(heap.spanOf(heap.arenaBase + 16 * MiB)).toBeUndefined();
  });

  it('iterates spans in address order, tiling the mapped arena', () => {
    const { heap } = rig();
    [3, 5, 7].forEach((n) => heap.alloc(n));
    let addr = heap.arenaBase;
    for (const s of heap.spans()) {
      expect(s.base).toBe(addr);
      expect(s).toBeInstanceOf(Span);
      addr = s.end;
    }
    expect(addr).toBe(heap.arenaBase + heap.heapSys);
  });

  it('a fraction of a byte asked of the scavenger releases whole pages (it once released nothing, and madvise got length 0)', () => {
    // The scavenger's pace (bytes per ms × ms) is fractional; against an address near 2^47 a
    // fraction below ~0.03 vanishes (a - 1e-3 === a). Go's nbytes is a uintptr: whole bytes.
    const { heap } = rig();
    heap.free(heap.alloc(4));
    const released = heap.heapReleased;
    const got = heap.scavenge(1e-3);
    expect(got).toBeGreaterThanOrEqual(P);
    expect(got).toBeLessThanOrEqual(4 * P);
    expect(heap.heapReleased - released).toBe(got);
  });

  it('gives equal snapshots for equal histories', () => {
    const run = () => {
      const { heap } = rig({ seed: 42 });
      const s = [9, 1, 300, 2].map((n) => heap.alloc(n));
      heap.free(s[2]);
      heap.free(s[0]);
      heap.scavenge(MiB);
      return heap.snapshot();
    };
    const first = run();
    expect(run()).toEqual(first);
    expect(JSON.parse(JSON.stringify(first))).toEqual(first);
  });

  it('close unmaps the arena and refuses every later call', () => {
    const { heap, sys, mem } = rig();
    const s = heap.alloc(1);
    heap.close();
    heap.close();
    expect(sys.calls.unmap).toBe(1);
    expect(mem.reservations()).toEqual([]);
    for (const call of [() => heap.alloc(1), () => heap.free(s), () => heap.scavengeAll()]) {
      expect(thrown(call).code).toBe('ERR_HUGESPAN_HEAP_CLOSED');
    }
  });
});
