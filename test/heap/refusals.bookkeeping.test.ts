/**
 * Every refusal throws its own code and leaves the heap — its snapshot and the OS calls it made —
 * exactly as it was.
 */
import { MHeap } from '../../src/heap/mheap';
import type { Span } from '../../src/heap/span';
import { KiB, MiB, rig, thrown } from './helpers';

const P = 8 * KiB;

function expectRefused(heap: MHeap, call: () => unknown, name: string, code: string): void {
  const snapshot = heap.snapshot();
  const calls = heap.sys.snapshotCalls();
  const e = thrown(call);
  expect([e.name, e.code]).toEqual([name, code]);
  expect(heap.snapshot()).toEqual(snapshot);
  expect(heap.sys.snapshotCalls()).toEqual(calls);
  heap.checkInvariants();
}

describe('refusals', () => {
  it('double free: the span is already free (even after it absorbed neighbours)', () => {
    const { heap } = rig();
    const [a, b] = [heap.alloc(4), heap.alloc(4), heap.alloc(4)];
    heap.free(b);
    expectRefused(heap, () => heap.free(b), 'Error', 'ERR_HUGESPAN_DOUBLE_FREE');
    heap.free(a); // a absorbs b
    expectRefused(heap, () => heap.free(a), 'Error', 'ERR_HUGESPAN_DOUBLE_FREE');
  });

  it('stale span: merged away into a neighbour', () => {
    const { heap } = rig();
    const [a, b] = [heap.alloc(4), heap.alloc(4), heap.alloc(4)];
    heap.free(a);
    heap.free(b); // b absorbs a
    expect(a.state).toBe('dead');
    expectRefused(heap, () => heap.free(a), 'Error', 'ERR_HUGESPAN_STALE_SPAN');
  });

  it('stale span: its memory was handed out again, as a fresh span', () => {
    const { heap } = rig();
    const [a] = [heap.alloc(4), heap.alloc(4)];
    heap.free(a);
    const again = heap.alloc(4);
    expect(again).not.toBe(a);
    expect(again.base).toBe(a.base);
    expectRefused(heap, () => heap.free(a), 'Error', 'ERR_HUGESPAN_STALE_SPAN');
    heap.free(again);
  });

  it('foreign span: one from another heap, or not a span at all', () => {
    const { heap } = rig();
    const other = rig().heap;
    heap.alloc(1);
    const theirs = other.alloc(1);
    expectRefused(heap, () => heap.free(theirs), 'Error', 'ERR_HUGESPAN_FOREIGN_SPAN');
    const forged = { ...theirs, heap } as unknown as Span;
    expectRefused(heap, () => heap.free(forged), 'TypeError', 'ERR_INVALID_ARG_TYPE');
  });

  it.each([
    [0, 'RangeError', 'ERR_OUT_OF_RANGE'],
    [-1, 'RangeError', 'ERR_OUT_OF_RANGE'],
    [1.5, 'RangeError', 'ERR_OUT_OF_RANGE'],
    [NaN, 'RangeError', 'ERR_OUT_OF_RANGE'],
    [Infinity, 'RangeError', 'ERR_OUT_OF_RANGE'],
    [2 ** 53, 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['3', 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    [undefined, 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ])('bad npages %p', (npages, name, code) => {
    const { heap } = rig();
    heap.alloc(1);
    expectRefused(heap, () => heap.alloc(npages as number), name, code);
  });

  it('bad scavenge sizes', () => {
    const { heap } = rig();
    expectRefused(heap, () => heap.scavenge(-1), 'RangeError', 'ERR_OUT_OF_RANGE');
    expectRefused(heap, () => heap.scavenge(NaN), 'RangeError', 'ERR_OUT_OF_RANGE');
    expectRefused(heap, () => heap.scavenge('1' as never), 'TypeError', 'ERR_INVALID_ARG_TYPE');
  });

  it('arena exhausted: a request larger than the arena, and one larger than what is left to map', () => {
    const { heap } = rig({ arenaBytes: 8 * MiB, growBytes: 4 * MiB });
    expectRefused(heap, () => heap.alloc(8 * MiB / P + 1), 'Error', 'ERR_HUGESPAN_ARENA_EXHAUSTED');
    const all = heap.alloc(8 * MiB / P);
    expectRefused(heap, () => heap.alloc(1), 'Error', 'ERR_HUGESPAN_ARENA_EXHAUSTED');
    heap.free(all);
    expect(heap.alloc(1).base).toBe(heap.arenaBase);
  });

  it('a failing OS call leaves the heap unchanged', () => {
    const { heap, sys } = rig();
    jest.spyOn(sys, 'sysMap').mockImplementationOnce(() => {
      throw Object.assign(new Error('mprotect: ENOMEM'), { code: 'ENOMEM' });
    });
    expectRefused(heap, () => heap.alloc(1), 'Error', 'ENOMEM');
    const [, b] = [heap.alloc(4), heap.alloc(4), heap.alloc(4)];
    heap.free(b);
    jest.spyOn(sys, 'sysUnused').mockImplementationOnce(() => {
      throw Object.assign(new Error('madvise: EINVAL'), { code: 'EINVAL' });
    });
    expectRefused(heap, () => heap.scavengeAll(), 'Error', 'EINVAL');
  });

  it('a failing MADV_HUGEPAGE while coalescing leaves the span in use and the heap unchanged', () => {
    const { heap, sys } = rig();
    const [a, b] = [heap.alloc(128), heap.alloc(256), heap.alloc(1)]; // [0, 1M) [1M, 3M): no whole huge page each
    heap.free(a);
    jest.spyOn(sys, 'sysHugePage').mockImplementationOnce(() => {
      throw Object.assign(new Error('madvise: EINVAL'), { code: 'EINVAL' });
    });
    expectRefused(heap, () => heap.free(b), 'Error', 'EINVAL');
    expect(b.state).toBe('inUse');
    heap.free(b); // [0, 3M) now holds a huge page: marked
    expect(sys.calls.hugepage).toBe(2); // the reservation (thp=always), then the merge
  });
});
