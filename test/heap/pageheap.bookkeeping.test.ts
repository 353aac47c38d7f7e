/**
 * The page heap (src/heap/pageheap.ts) over FakeMemory: first fit and coalescing by address,
 * memstats and huge-page counts against a recount after every op, the scavenger's accounting and
 * OS calls, the sysHugePage-on-a-whole-frame policy, and refusals that change nothing.
 */
import { FakeMemory } from '../../src/sys/fake';
import { Sys } from '../../src/sys/sys';
import { PageHeap } from '../../src/heap/pageheap';
import type { PageHeapOptions } from '../../src/heap/pageheap';
import { Rand } from '../../src/heap/rand';
import { PageSpans } from '../../src/heap/pagespans';
import { KiB, MiB, thrown } from './helpers';

const P = 8 * KiB;
const H = 2 * MiB;
const FRAME = H / P; // 256 pages

function pageRig(opts: PageHeapOptions = {}, physHugePageSize = H) {
  const sys = new Sys(new FakeMemory({ physHugePageSize }));
  const heap = new PageHeap(sys, { arenaBytes: 64 * MiB, growBytes: 16 * MiB, ...opts });
  return { sys, heap };
}

/** The free, unscavenged spans' whole huge pages, from spans(): what freeHugePages must equal. */
function hugePagesOfDirtySpans(heap: PageHeap): number {
  let n = 0;
  for (const s of heap.spans()) if (s.state === 'free' && !s.scavenged) n += s.hugePages();
  return n;
}

function expectRefused(heap: PageHeap, call: () => unknown, name: string, code: string): void {
  const snapshot = heap.snapshot();
  const calls = heap.sys.snapshotCalls();
  const e = thrown(call);
  expect([e.name, e.code]).toEqual([name, code]);
  expect(heap.snapshot()).toEqual(snapshot);
  expect(heap.sys.snapshotCalls()).toEqual(calls);
  heap.checkInvariants();
}

describe('PageHeap', () => {
  it('first fit, and a freed allocation coalesces with its free neighbours by address', () => {
    const { heap } = pageRig();
    const [a, b, c, d] = [heap.alloc(4), heap.alloc(2), heap.alloc(8), heap.alloc(1)];
    expect([b - a, c - b, d - c]).toEqual([4 * P, 2 * P, 8 * P]);
    heap.free(b);
    expect(heap.alloc(3)).toBe(d + P); // b's 2 pages are too few: first fit lands past d
    heap.free(c); // b and c's pages are one free run of 10
    expect(heap.alloc(10)).toBe(b);
    heap.checkInvariants();
    const spans = heap.snapshot().spans.slice(0, 5);
    expect(spans.map((s) => [s.base - a, s.npages, s.state])).toEqual([[0, 4, 'inUse'], [4 * P, 10, 'inUse'], [14 * P, 1, 'inUse'], [15 * P, 3, 'inUse'], [18 * P, 2048 - 18, 'free']]);
  });

  it('memstats: fresh memory is released; allocating it un-releases only what was scavenged, and sysUsed re-advises its whole huge pages', () => {
    const { heap, sys } = pageRig();
    const a = heap.alloc(4);
    expect([heap.heapSys, heap.heapInuse, heap.heapFree, heap.heapReleased]).toEqual([16 * MiB, 4 * P, 0, 16 * MiB - 4 * P]);
    const before = sys.snapshotCalls();
    heap.free(a); // 4 dirty pages: no frame is whole, no advice
    expect(sys.snapshotCalls()).toEqual(before);
    expect([heap.heapFree, heap.freeHugePages]).toEqual([4 * P, 0]);
    // 6 pages over the 4 dirty ones: 2 were scavenged, the whole range is sysUsed (here: no whole huge page inside, no call).
    heap.alloc(6);
    expect([heap.heapInuse, heap.heapFree, heap.heapReleased]).toEqual([6 * P, 0, 16 * MiB - 6 * P]);
    const hugepage = sys.snapshotCalls().hugepage;
    heap.alloc(2 * FRAME); // from released memory, holding at least one whole huge page
    expect(sys.snapshotCalls().hugepage - hugepage).toBe(1);
    heap.checkInvariants();
  });

  it('a free that leaves a frame wholly free and unscavenged gets one MADV_HUGEPAGE over those frames', () => {
    const { heap, sys } = pageRig({}, H);
    const a = heap.alloc(FRAME - 8); // frame 0, all but its last 8 pages
    const b = heap.alloc(2 * FRAME + 16); // frame 0's tail, frames 1 and 2, 16 pages of frame 3
    heap.free(a); // frame 0 still holds 8 of b's pages
    expect(heap.freeHugePages).toBe(0);
    const before = sys.snapshotCalls().hugepage;
    heap.free(b); // frames 0, 1, 2 whole; frame 3 has 16 dirty pages and the rest released
    expect(sys.snapshotCalls().hugepage - before).toBe(1); // one call for the three adjacent frames
    expect(heap.freeHugePages).toBe(3);
    expect(hugePagesOfDirtySpans(heap)).toBe(3);
    heap.checkInvariants();
  });

  it('scavenge releases from the top down, cutting at a huge page boundary, and counts its bytes', () => {
    const { heap, sys } = pageRig();
    const a = heap.alloc(3 * FRAME);
    heap.alloc(1); // keeps a's run from reaching the released rest
    heap.free(a); // 3 dirty frames
    expect(heap.freeHugePages).toBe(3);
    const before = sys.snapshotCalls();
    // 10 pages asked: the cut moves down to the last frame's start, so that frame goes whole.
    expect(heap.scavenge(10 * P)).toBe(FRAME * P);
    expect(sys.snapshotCalls().free - before.free).toBe(1);
    expect([heap.freeHugePages, heap.heapFree, heap.heapReleased]).toEqual([2, 2 * FRAME * P, 16 * MiB - P - 2 * FRAME * P]);
    expect(heap.snapshot().spans.slice(0, 3).map((s) => [s.base - a, s.npages, s.scavenged])).toEqual([
      [0, 2 * FRAME, false], [2 * FRAME * P, FRAME, true], [3 * FRAME * P, 1, false],
    ]);
    expect(heap.scavengeAll()).toBe(2 * FRAME * P);
    expect([heap.heapFree, heap.freeHugePages, heap.scavenge(P)]).toEqual([0, 0, 0]);
    heap.checkInvariants();
  });

  it('random churn with scavenging: invariants, recounts and first fit by address hold after every op (seeded)', () => {
    const { heap } = pageRig({ arenaBytes: 128 * MiB, growBytes: 8 * MiB });
    const rand = new Rand(7);
    const live: number[] = [];
    let scavenged = 0;
    for (let op = 0; op < 600; op++) {
      const x = rand.float();
      if (x < 0.55 || live.length === 0) {
        const n = rand.float() < 0.9 ? 1 + rand.int(16) : 17 + rand.int(600);
        // First fit: the lowest free run of n pages that spans() shows (or the mapped end, if none).
        let want: number | undefined;
        let run = 0;
        let runBase = 0;
        for (const s of heap.spans()) {
          if (s.state !== 'free') {
            run = 0;
            continue;
          }
          if (run === 0) runBase = s.base;
          run += s.npages;
          if (run >= n) {
            want = runBase;
            break;
          }
        }
        const addr = heap.alloc(n);
        if (want !== undefined) expect(addr).toBe(want);
        live.push(addr);
      } else if (x < 0.95) {
        const k = rand.int(live.length);
        heap.free(live[k]);
        live[k] = live[live.length - 1];
        live.pop();
      } else {
        scavenged += heap.scavenge(Math.floor(heap.heapFree * rand.float()));
      }
      heap.checkInvariants();
      expect(heap.freeHugePages).toBe(hugePagesOfDirtySpans(heap));
    }
    expect(scavenged).toBeGreaterThan(0);
    expect(heap.heapInuse).toBe(live.reduce((n, a) => n + heap.sizeOf(a) * P, 0));
  });

  it('without huge pages the frames still balance and nothing is advised huge', () => {
    const { heap, sys } = pageRig({}, 0);
    const a = heap.alloc(300);
    heap.free(a);
    expect([heap.freeHugePages, sys.snapshotCalls().hugepage]).toEqual([0, 0]);
    heap.checkInvariants();
  });

  it('PageSpans, the lab\'s handles: a freed handle is dead for good, even when its address is handed out again', () => {
    const spans = new PageSpans(pageRig().heap);
    const other = new PageSpans(pageRig().heap);
    const a = spans.alloc(4);
    expect([a.state, a.npages, a.bytes, a.end - a.base]).toEqual(['inUse', 4, 4 * P, 4 * P]);
    spans.free(a);
    const again = spans.alloc(4);
    expect([a.state, again.base]).toEqual(['dead', a.base]);
    for (const [call, name, code] of [
      [() => spans.free(a), 'Error', 'ERR_HUGESPAN_STALE_SPAN'],
      [() => spans.free(other.alloc(1)), 'Error', 'ERR_HUGESPAN_FOREIGN_SPAN'],
      [() => spans.free({ ...again } as never), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ] as const) {
      const e = thrown(call);
      expect([e.name, e.code]).toEqual([name, code]);
    }
    expect(again.state).toBe('inUse');
    spans.checkInvariants();
  });

  describe('refusals change nothing', () => {
    it('bad sizes and types', () => {
      const { heap } = pageRig();
      heap.alloc(1);
      expectRefused(heap, () => heap.alloc(0), 'RangeError', 'ERR_OUT_OF_RANGE');
      expectRefused(heap, () => heap.alloc(1.5), 'RangeError', 'ERR_OUT_OF_RANGE');
      expectRefused(heap, () => heap.alloc(-3), 'RangeError', 'ERR_OUT_OF_RANGE');
      expectRefused(heap, () => heap.alloc('2' as unknown as number), 'TypeError', 'ERR_INVALID_ARG_TYPE');
      expectRefused(heap, () => heap.free({} as unknown as number), 'TypeError', 'ERR_INVALID_ARG_TYPE');
      expectRefused(heap, () => heap.scavenge(-1), 'RangeError', 'ERR_OUT_OF_RANGE');
      expectRefused(heap, () => heap.scavenge('1' as unknown as number), 'TypeError', 'ERR_INVALID_ARG_TYPE');
    });

    it('frees that name no live allocation', () => {
      const { heap } = pageRig();
      const a = heap.alloc(4);
      heap.alloc(4);
      expectRefused(heap, () => heap.free(a + P), 'Error', 'ERR_HUGESPAN_STALE_SPAN'); // inside a
      expectRefused(heap, () => heap.free(a + P / 2), 'Error', 'ERR_HUGESPAN_STALE_SPAN'); // not a page boundary
      expectRefused(heap, () => heap.free(heap.arenaBase - P), 'Error', 'ERR_HUGESPAN_FOREIGN_SPAN');
      expectRefused(heap, () => heap.free(heap.arenaBase + heap.heapSys), 'Error', 'ERR_HUGESPAN_FOREIGN_SPAN');
      heap.free(a);
      expectRefused(heap, () => heap.free(a), 'Error', 'ERR_HUGESPAN_DOUBLE_FREE');
    });

    it('the arena is exhausted, or the heap is closed', () => {
      const { heap } = pageRig({ arenaBytes: 16 * MiB });
      heap.alloc(1000);
      expectRefused(heap, () => heap.alloc(2000), 'Error', 'ERR_HUGESPAN_ARENA_EXHAUSTED');
      heap.close();
      const e = thrown(() => heap.alloc(1));
      expect([e.name, e.code]).toEqual(['Error', 'ERR_HUGESPAN_HEAP_CLOSED']);
    });

    it('bad options', () => {
      const sys = new Sys(new FakeMemory());
      for (const opts of [{ pageSize: 3000 }, { pageSize: 4 * MiB }, { arenaBytes: -1 }, { growBytes: MiB }]) {
        const e = thrown(() => new PageHeap(sys, opts));
        expect([opts, e.name, e.code]).toEqual([opts, 'RangeError', 'ERR_INVALID_ARG_VALUE']);
      }
    });
  });
});
