/**
 * The seed's scenario (31c4e09, For #30333), on FakeMemory: pieces of a free span were scavenged
 * and reused, so their edge huge pages carry NOHUGEPAGE; once everything is free again, the span
 * counts whole free huge pages. With the `coalesce` policy none of them is `nh`; with `none`, some
 * are, so freeHugePages counts huge pages the kernel would not give.
 */
import type { CoalescePolicy } from '../../src/heap/mheap';
import type { SysCalls } from '../../src/sys/sys';
import { KiB, MiB, rig } from './helpers';

const H = 2 * MiB;
const P = 8 * KiB;

function scenario(policy: CoalescePolicy) {
  const { heap, mem, sys } = rig({ policy });
  const at = (off: number) => heap.arenaBase + off;
  // Three neighbours whose edges are not huge-page aligned: [0, 1.5M) [1.5M, 6.5M) [6.5M, 9.5M).
  const a = heap.alloc((1.5 * MiB) / P);
  const b = heap.alloc((5 * MiB) / P);
  const c = heap.alloc((3 * MiB) / P);
  expect([a.base, b.base, c.base]).toEqual([at(0), at(1.5 * MiB), at(6.5 * MiB)]);

  heap.free(b);
  const beforeScavenge = sys.snapshotCalls();
  expect(heap.scavenge(b.bytes)).toBe(5 * MiB);
  // sysUnused marked the two edge huge pages of b, in two calls (they are not adjacent), and no more.
  expect(sys.calls.nohugepage - beforeScavenge.nohugepage).toBe(2);
  expect([0, 1, 2, 3].map((i) => mem.frameFlags(at(i * H)))).toEqual(['nh', 'hg', 'hg', 'nh']);

  const b2 = heap.alloc((5 * MiB) / P);
  expect(b2.base).toBe(at(1.5 * MiB));
  heap.free(a);
  heap.free(b2);
  heap.free(c);

  const spans = heap.snapshot().spans;
  expect(spans[0]).toEqual({ base: at(0), npages: (9.5 * MiB) / P, state: 'free', scavenged: false });
  expect(spans[1].scavenged).toBe(true);
  expect(heap.freeHugePages).toBe(4);
  heap.checkInvariants();
  return { nh: mem.framesMarked('nh', at(0), 4 * H), hg: mem.framesMarked('hg', at(0), 4 * H), calls: sys.snapshotCalls() };
}

describe("the seed's scenario", () => {
  let coalesce: ReturnType<typeof scenario>;
  let none: ReturnType<typeof scenario>;
  beforeAll(() => {
    coalesce = scenario('coalesce');
    none = scenario('none');
  });

  it('coalesce: no whole huge page of the free span is nh', () => {
    expect(coalesce).toMatchObject({ nh: 0, hg: 4 });
  });

  it('none: the two edge huge pages stay nh, though freeHugePages counts them', () => {
    expect(none).toMatchObject({ nh: 2, hg: 2 });
  });

  it('the policies differ by exactly two MADV_HUGEPAGE calls, one per merge that made a new huge page', () => {
    const diff = Object.fromEntries(
      (Object.keys(coalesce.calls) as (keyof SysCalls)[]).map((k) => [k, coalesce.calls[k] - none.calls[k]]),
    );
    expect(diff).toEqual({ ...Object.fromEntries(Object.keys(diff).map((k) => [k, 0])), hugepage: 2 });
    // reserve (thp=always), sysUsed of b, sysUsed of b again; coalesce adds one per merge.
    expect(none.calls).toMatchObject({ reserve: 1, commit: 1, hugepage: 3, nohugepage: 2, free: 1 });
  });
});
