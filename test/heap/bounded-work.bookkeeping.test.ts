/**
 * Unbounded work in the heap layer (issue 21, item 5): every size a caller gives is checked
 * against the structure it addresses before any loop runs, so absurd sizes are refused with a
 * code in well under a second, and nothing changes.
 */
import { PageAlloc } from '../../src/heap/pagealloc';
import { MHeap } from '../../src/heap/mheap';
import { PageHeap } from '../../src/heap/pageheap';
import { Sys } from '../../src/sys/sys';
import { FakeMemory } from '../../src/sys/fake';
import { thrown } from './helpers';

/** What fn throws, which must come quickly. */
function refusedQuickly(fn: () => unknown): Error & { code?: string } {
  const t0 = performance.now();
  const e = thrown(fn);
  expect(performance.now() - t0).toBeLessThan(500);
  return e;
}

function bitmaps(pa: PageAlloc): string {
  return JSON.stringify([[...pa.alloc], [...pa.scav], [...pa.starts], [...pa.dirty], pa.grown]);
}

describe('PageAlloc: every public method checks its pages and bitmaps first', () => {
  it("the issue's repro: count over a foreign bitmap and 2^53 pages returns at once, refused", () => {
    const pa = new PageAlloc(1024);
    expect(refusedQuickly(() => pa.count(new Int32Array(32), 0, 2 ** 53)).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(refusedQuickly(() => pa.count(pa.alloc, 0, 2 ** 53)).code).toBe('ERR_OUT_OF_RANGE');
    expect(refusedQuickly(() => pa.count(pa.alloc, 2 ** 53, 1)).code).toBe('ERR_OUT_OF_RANGE');
    expect(pa.count(pa.alloc, 0, pa.pages)).toBe(pa.pages); // nothing grown yet: all outside the heap
  });

  it.each([
    ['new PageAlloc(2^40)', () => new PageAlloc(2 ** 40), 'ERR_OUT_OF_RANGE'],
    ['new PageAlloc(-1)', () => new PageAlloc(-1), 'ERR_OUT_OF_RANGE'],
    ['new PageAlloc(1n)', () => new PageAlloc(1n as never), 'ERR_INVALID_ARG_TYPE'],
  ])('%s', (_name, fn, code) => {
    expect(refusedQuickly(fn).code).toBe(code);
  });

  it('grow, allocRange, markScavenged, free, find, findDirty: refused with nothing changed', () => {
    const pa = new PageAlloc(2048);
    pa.grow(1024);
    pa.allocRange(0, 10);
    pa.allocRange(10, 5);
    pa.free(10); // five free, unscavenged pages: findDirty has an answer to write
    const before = bitmaps(pa);
    for (const [call, code] of [
      [() => pa.grow(-5), 'ERR_OUT_OF_RANGE'],
      [() => pa.grow(2 ** 53), 'ERR_OUT_OF_RANGE'],
      [() => pa.grow(1n as never), 'ERR_INVALID_ARG_TYPE'],
      [() => pa.allocRange(5, 10), 'ERR_INVALID_ARG_VALUE'], // overlaps pages in use
      [() => pa.allocRange(0, 2 ** 53), 'ERR_OUT_OF_RANGE'],
      [() => pa.markScavenged(0, 20), 'ERR_INVALID_ARG_VALUE'], // in use
      [() => pa.free(3), 'ERR_INVALID_ARG_VALUE'], // not an allocation's first page
      [() => pa.free(2 ** 60), 'ERR_OUT_OF_RANGE'],
      [() => pa.find(0), 'ERR_OUT_OF_RANGE'],
      [() => pa.findDirty(1024, Object.freeze({ lo: 0, hi: 0 })), 'ERR_INVALID_ARG_VALUE'], // cannot write the answer
      [() => pa.findDirty(2 ** 53, { lo: 0, hi: 0 }), 'ERR_OUT_OF_RANGE'],
      [() => pa.isFree(-1), 'ERR_OUT_OF_RANGE'],
      [() => pa.summaryAt(99, 0), 'ERR_OUT_OF_RANGE'],
    ] as const) {
      expect(refusedQuickly(call).code).toBe(code);
      expect(bitmaps(pa)).toBe(before);
    }
    expect(pa.validate()).toBeUndefined();
  });
});

describe('heaps and the fake OS refuse sizes they could not hold, before allocating anything', () => {
  const sys = () => new Sys(new FakeMemory());
  it.each([
    ['MHeap arenaBytes 2^50', () => new MHeap(sys(), { arenaBytes: 2 ** 50 }), 'ERR_OUT_OF_RANGE'],
    ['MHeap arenaBytes 1n', () => new MHeap(sys(), { arenaBytes: 1n as never }), 'ERR_INVALID_ARG_TYPE'],
    ['PageHeap arenaBytes 2^50', () => new PageHeap(sys(), { arenaBytes: 2 ** 50 }), 'ERR_INVALID_ARG_VALUE'],
    ['FakeMemory reserve 1e15', () => new FakeMemory().reserve(1e15, 4096), 'ERR_OUT_OF_RANGE'],
    ['FakeMemory reserve align 2^60', () => new FakeMemory().reserve(4096, 2 ** 60), 'ERR_OUT_OF_RANGE'],
  ])('%s', (_name, fn, code) => {
    expect(refusedQuickly(fn).code).toBe(code);
  });
});
