/**
 * The Go 1.14-style page allocator (src/heap/pagealloc.ts) against a plain reference model: a
 * boolean per page for "in use" and for "scavenged", first fit by a linear scan. Seeded random
 * op sequences; after every op the summaries must match the bitmap (validate) and every answer
 * must match the model's.
 */
import { CHUNK_PAGES, PageAlloc } from '../../src/heap/pagealloc';
import { Rand } from '../../src/heap/rand';

/** The reference: pages as two boolean arrays, allocations as a map start → length. */
class Model {
  readonly used: boolean[];
  readonly scav: boolean[];
  readonly allocs = new Map<number, number>();

  constructor(readonly grown: number) {
    this.used = new Array<boolean>(grown).fill(false);
    this.scav = new Array<boolean>(grown).fill(true);
  }

  firstFit(n: number): number {
    let run = 0;
    for (let p = 0; p < this.grown; p++) {
      run = this.used[p] ? 0 : run + 1;
      if (run === n) return p - n + 1;
    }
    return -1;
  }

  alloc(p: number, n: number): number {
    let scavenged = 0;
    for (let q = p; q < p + n; q++) {
      if (this.used[q]) throw new Error(`model: page ${q} is in use`);
      if (this.scav[q]) scavenged++;
      this.used[q] = true;
      this.scav[q] = false;
    }
    this.allocs.set(p, n);
    return scavenged;
  }

  free(p: number): number {
    const n = this.allocs.get(p)!;
    for (let q = p; q < p + n; q++) this.used[q] = false;
    this.allocs.delete(p);
    return n;
  }

  /** The highest run of free unscavenged pages ending at or below `below`. */
  highestDirty(below: number): { lo: number; hi: number } | undefined {
    let hi = below;
    while (hi > 0 && (this.used[hi - 1] || this.scav[hi - 1])) hi--;
    if (hi === 0) return undefined;
    let lo = hi;
    while (lo > 0 && !this.used[lo - 1] && !this.scav[lo - 1]) lo--;
    return { lo, hi };
  }
}

function expectValid(pa: PageAlloc): void {
  expect(pa.validate()).toBeUndefined();
}

describe('PageAlloc', () => {
  it('a fresh allocator holds nothing until grown; grown pages are one free, scavenged run', () => {
    const pa = new PageAlloc(3 * CHUNK_PAGES);
    expect(pa.find(1)).toBe(-1);
    pa.grow(CHUNK_PAGES + 10); // crosses a chunk boundary
    expectValid(pa);
    expect(pa.summaryAt(pa.levels - 1, 0)).toEqual({ start: CHUNK_PAGES, max: CHUNK_PAGES, end: CHUNK_PAGES });
    expect(pa.summaryAt(pa.levels - 1, 1)).toEqual({ start: 10, max: 10, end: 0 });
    expect(pa.find(CHUNK_PAGES + 10)).toBe(0);
    expect(pa.find(CHUNK_PAGES + 11)).toBe(-1);
    expect(pa.count(pa.scav, 0, CHUNK_PAGES + 10)).toBe(CHUNK_PAGES + 10);
    expect(Array.from(pa.dirty)).toEqual([0, 0, 0]);
  });

  it('summaries merge across chunks: a run that straddles a boundary is found where it starts', () => {
    const pa = new PageAlloc(4 * CHUNK_PAGES);
    pa.grow(4 * CHUNK_PAGES);
    // In use: everything but the last 5 pages of chunk 0 and the first 7 of chunk 1.
    expect(pa.allocRange(0, CHUNK_PAGES - 5)).toBe(CHUNK_PAGES - 5);
    pa.allocRange(CHUNK_PAGES + 7, 3 * CHUNK_PAGES - 7);
    expectValid(pa);
    expect(pa.find(12)).toBe(CHUNK_PAGES - 5);
    expect(pa.find(13)).toBe(-1);
    expect(pa.find(6)).toBe(CHUNK_PAGES - 5);
  });

  it('a chunk summary finds runs inside one word, across words, and at both ends', () => {
    const pa = new PageAlloc(CHUNK_PAGES);
    pa.grow(CHUNK_PAGES);
    pa.allocRange(0, CHUNK_PAGES);
    pa.free(0);
    // In use: page 3, pages 14..40, page 100, page 500; free: 0..2, 4..13 (10, inside word 0), 41..99 (59, across words), 101..499, 501..511.
    for (const [p, n] of [[3, 1], [14, 27], [100, 1], [500, 1]]) pa.allocRange(p, n);
    expect(pa.summarizeChunk(0)).toEqual({ start: 3, max: 399, end: 11 });
    pa.allocRange(101, 399);
    expect(pa.summarizeChunk(0)).toEqual({ start: 3, max: 59, end: 11 });
    pa.allocRange(41, 59);
    expect(pa.summarizeChunk(0)).toEqual({ start: 3, max: 11, end: 11 });
    pa.allocRange(501, 11);
    expect(pa.summarizeChunk(0)).toEqual({ start: 3, max: 10, end: 0 });
    expect(pa.find(10)).toBe(4);
    expect(pa.find(11)).toBe(-1);
    expectValid(pa);
  });

  it('lengthAt and free: an allocation ends at the next start or free page', () => {
    const pa = new PageAlloc(CHUNK_PAGES);
    pa.grow(CHUNK_PAGES);
    pa.allocRange(0, 40); // crosses a word
    pa.allocRange(40, 3); // adjacent: its start bit ends the first
    pa.allocRange(CHUNK_PAGES - 2, 2); // ends at the heap's end
    expect([pa.lengthAt(0), pa.lengthAt(40), pa.lengthAt(CHUNK_PAGES - 2), pa.lengthAt(1), pa.lengthAt(43)]).toEqual([40, 3, 2, 0, 0]);
    expect(pa.free(0)).toBe(40);
    expect(pa.lengthAt(40)).toBe(3);
    expect(() => pa.free(0)).toThrow(/no allocation starts/);
    expectValid(pa);
  });

  it('validate catches a summary that disagrees with the bitmap', () => {
    const pa = new PageAlloc(2 * CHUNK_PAGES);
    pa.grow(2 * CHUNK_PAGES);
    pa.allocRange(0, 3);
    expect(pa.summaryAt(pa.levels - 1, 0)).toEqual({ start: 0, max: CHUNK_PAGES - 3, end: CHUNK_PAGES - 3 });
    pa.summary[pa.levels - 1][1] = 1; // chunk 0's max, made wrong
    expect(pa.validate()).toMatch(/chunk 0: summary/);
  });

  // Large sizes up to a third of the heap, so runs cross chunk and level boundaries and the heap
  // fills up; 70 chunks make three levels.
  for (const [chunks, seed, ops] of [[3, 1, 1500], [70, 2, 700], [70, 3, 700]] as const) {
    it(`random ops against the reference (${chunks} chunks, seed ${seed}): first fit, lengths, scavenged pages, summaries`, () => {
      const rand = new Rand(seed);
      const pages = chunks * CHUNK_PAGES;
      const pa = new PageAlloc(pages);
      const grown = pages - 37; // not a whole number of chunks
      pa.grow(grown);
      const model = new Model(grown);
      expect(pa.levels).toBe(chunks > 8 ? 3 : 1);
      const size = (): number => {
        const x = rand.float();
        return x < 0.7 ? 1 + rand.int(8) : x < 0.95 ? 9 + rand.int(120) : 129 + rand.int(Math.floor(pages / 3));
      };
      const run = { lo: 0, hi: 0 };
      const seen = { crossing: 0, refused: 0, scavengedReuse: 0 };
      for (let op = 0; op < ops; op++) {
        const x = rand.float();
        if (x < 0.6) {
          const n = size();
          const p = pa.find(n);
          expect(p).toBe(model.firstFit(n));
          if (p < 0) seen.refused++;
          else {
            const scavenged = model.alloc(p, n);
            expect(pa.allocRange(p, n)).toBe(scavenged);
            if (scavenged > 0 && scavenged < n) seen.scavengedReuse++;
            if (Math.floor(p / CHUNK_PAGES) !== Math.floor((p + n - 1) / CHUNK_PAGES)) seen.crossing++;
          }
        } else if (x < 0.92 && model.allocs.size > 0) {
          const starts = [...model.allocs.keys()];
          const p = starts[rand.int(starts.length)];
          expect(pa.lengthAt(p)).toBe(model.allocs.get(p));
          expect(pa.free(p)).toBe(model.free(p));
        } else {
          const below = rand.int(grown + 1);
          const want = model.highestDirty(below);
          expect(pa.findDirty(below, run) ? { ...run } : undefined).toEqual(want);
          if (want) {
            const lo = Math.max(want.lo, want.hi - 1 - rand.int(64));
            pa.markScavenged(lo, want.hi - lo);
            for (let q = lo; q < want.hi; q++) model.scav[q] = true;
          }
        }
        expectValid(pa);
      }
      // The sequence reached the cases that matter: runs across chunks, a full heap, partly scavenged runs.
      expect(seen.crossing).toBeGreaterThan(0);
      expect(seen.refused).toBeGreaterThan(0);
      expect(seen.scavengedReuse).toBeGreaterThan(0);
      // The bitmaps, page by page, and the dirty counts per chunk.
      for (let p = 0; p < grown; p++) {
        expect([p, pa.isFree(p), pa.isScavenged(p)]).toEqual([p, !model.used[p], model.scav[p]]);
      }
      for (let c = 0; c < chunks; c++) {
        let dirty = 0;
        for (let p = c * CHUNK_PAGES; p < Math.min(grown, (c + 1) * CHUNK_PAGES); p++) if (!model.used[p] && !model.scav[p]) dirty++;
        expect(pa.dirty[c]).toBe(dirty);
      }
    });
  }

  it('refuses ranges outside it, and more than 2^30 pages', () => {
    const pa = new PageAlloc(CHUNK_PAGES);
    expect(() => pa.grow(CHUNK_PAGES + 1)).toThrow(RangeError);
    expect(() => new PageAlloc(2 ** 30 + 1)).toThrow(RangeError);
  });
});
