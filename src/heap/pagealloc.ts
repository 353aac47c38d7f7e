/**
 * PageAlloc: Go 1.14's page allocator (runtime/mpagealloc.go, mpallocbits.go), as bookkeeping
 * over page indices. Between calls: bit p of `alloc` is 1 iff page p is in use or not in the
 * heap (never grown into); bit p of `starts` is 1 iff page p is the first page of an allocation,
 * so an allocation is its start page and the in-use pages after it up to the next start or free
 * page; bit p of `scav` is 1 only for free pages, iff page p was given back to the OS; every
 * summary is (start, max, end) — the free pages at the low end, the longest free run and the free
 * pages at the high end — of the pages it covers: the leaf level one per chunk of `CHUNK_PAGES`
 * pages, read from the bitmap, each level above merging `FANOUT` entries below; `dirty[c]` counts
 * chunk c's free unscavenged pages.
 *
 * Why a radix tree of summaries rather than the 2019 treap: a first fit walks at most `FANOUT`
 * entries per level from the top, and an alloc or free rewrites one chunk's summary and its
 * ancestors. Both cost O(levels) = O(log arena), whatever the number of live or free spans, and
 * the whole structure is a few flat typed arrays (three bits per page plus the summaries), so it
 * stays in cache where a tree of span objects and a table of 4 bytes per page did not.
 *
 * Not modelled: the per-P page cache (mpagecache.go) and searchAddr: the first fit always
 * starts from the root, which keeps the walk's cost honest for the benchmark.
 *
 * Every public method checks its arguments (pages inside the allocator, bitmaps its own) before
 * it reads or writes anything, so a call's work is bounded by the allocator's size, and a
 * refused call changes nothing.
 */
import { argError, guardReceivers, intArg, objectArg, received } from '../native/args';

/** Pages per chunk: a leaf summary covers one chunk's 16 words of bitmap (the runtime's pallocChunkPages). */
export const CHUNK_PAGES = 512;
/** Entries of a level merged into one entry of the level above (the runtime's summaryLevelBits = 3). */
export const FANOUT = 8;
const WORDS_PER_CHUNK = CHUNK_PAGES / 32;

/** A summary: free pages at the low end, the longest free run, free pages at the high end. */
export interface Summary {
  start: number;
  max: number;
  end: number;
}

/** Trailing zero bits of a non-zero 32-bit word: the free pages at its low end. */
function ctz(w: number): number {
  return 32 - Math.clz32(~w & ((w - 1) | 0)); // the mask of the trailing zeros; int32 all along
}

/** The longest run of one bits in a 32-bit word: each step shortens every run by one. */
function longestOnes(x: number): number {
  let n = 0;
  for (; x !== 0; n++) x &= x << 1;
  return n;
}

/** Bit i set iff bits i .. i+n-1 of x are all set (1 ≤ n ≤ 32): where a run of n ones starts. */
function runStarts(x: number, n: number): number {
  let have = 1;
  while (have < n) {
    const step = Math.min(have, n - have);
    x &= x >>> step;
    have += step;
  }
  return x;
}

/** A mask of bits [lo, hi) of a word, 0 ≤ lo < hi ≤ 32. */
function mask(lo: number, hi: number): number {
  return ((hi === 32 ? -1 : (1 << hi) - 1) & ~((1 << lo) - 1)) | 0;
}

/** Pages in [p, p + n) whose bit is set in bits. */
function countBits(bits: Int32Array, p: number, n: number): number {
  let total = 0;
  for (let q = p, end = p + n; q < end;) {
    const lo = q & 31;
    const hi = Math.min(32, lo + (end - q));
    total += popcount(bits[q >> 5] & mask(lo, hi));
    q += hi - lo;
  }
  return total;
}

/** Popcount of a 32-bit word. */
function popcount(w: number): number {
  w -= (w >>> 1) & 0x55555555;
  w = (w & 0x33333333) + ((w >>> 2) & 0x33333333);
  return (Math.imul((w + (w >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

export class PageAlloc {
  /** Pages the allocator can ever hold (whole chunks). */
  readonly pages: number;
  readonly chunks: number;
  /** 1 = in use or outside the heap. */
  readonly alloc: Int32Array;
  /** 1 = free and given back to the OS. */
  readonly scav: Int32Array;
  /** 1 = the first page of an allocation: lengths cost a bit per page, not a table of counts. */
  readonly starts: Int32Array;
  /** Pages [0, limit) were grown into the heap; the rest are outside it. */
  private limit = 0;
  /** Per chunk: free, unscavenged pages. */
  readonly dirty: Int32Array;
  /** summary[l]: level l's entries, (start, max, end) at 3k..3k+2; level 0 is the root (≤ FANOUT entries). */
  readonly summary: Int32Array[];
  /** Entries per level, and pages per entry. */
  private readonly levelEntries: number[];
  private readonly levelPages: number[];

  /** An allocator for `pages` pages (rounded up to chunks), all outside the heap until grow(). */
  constructor(pages: number) {
    intArg(pages, 'pages', 0, 2 ** 30);
    this.chunks = Math.max(1, Math.ceil(pages / CHUNK_PAGES));
    this.pages = this.chunks * CHUNK_PAGES;
    const words = this.chunks * WORDS_PER_CHUNK;
    this.alloc = new Int32Array(words).fill(-1);
    this.scav = new Int32Array(words);
    this.starts = new Int32Array(words);
    this.dirty = new Int32Array(this.chunks);
    // Levels from the leaves up until one level has at most FANOUT entries: that is the root,
    // which find scans whole (the runtime's root level is wide for the same reason).
    const entries = [this.chunks];
    const per = [CHUNK_PAGES];
    while (entries[0] > FANOUT) {
      entries.unshift(Math.ceil(entries[0] / FANOUT));
      per.unshift(per[0] * FANOUT);
    }
    this.levelEntries = entries;
    this.levelPages = per;
    this.summary = entries.map((n) => new Int32Array(3 * n)); // all (0, 0, 0): nothing free yet
  }

  get levels(): number {
    return this.summary.length;
  }

  /** Summary k of level l. */
  summaryAt(l: number, k: number): Summary {
    intArg(l, 'l', 0, this.summary.length - 1);
    intArg(k, 'k', 0, this.levelEntries[l] - 1);
    const s = this.summary[l];
    return { start: s[3 * k], max: s[3 * k + 1], end: s[3 * k + 2] };
  }

  /** Pages in the heap: [0, grown). */
  get grown(): number {
    return this.limit;
  }

  /** The n pages past the heap's end join it, free and scavenged (fresh memory is not resident). */
  grow(n: number): void {
    const p = this.limit;
    this.#checkRange(p, n);
    this.limit = p + n;
    this.#setBits(this.alloc, p, n, false);
    this.#setBits(this.scav, p, n, true);
    this.#update(p, n);
  }

  /** The length of the allocation starting at page p, or 0 if none starts there. */
  lengthAt(p: number): number {
    if (typeof p !== 'number') throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "p" argument must be of type number. ${received(p)}`);
    if (!(Number.isInteger(p) && p >= 0 && p < this.limit) || (this.starts[p >> 5] & (1 << (p & 31))) === 0) return 0;
    // The first page after p that starts another allocation or is free.
    for (let q = p + 1; q < this.limit;) {
      const k = q >> 5;
      const edge = (this.starts[k] | ~this.alloc[k]) & mask(q & 31, 32);
      if (edge !== 0) return Math.min(32 * k + ctz(edge), this.limit) - p;
      q = 32 * (k + 1);
    }
    return this.limit - p;
  }

  /**
   * First fit: the lowest page starting a free run of npages, or -1. Walks from the root: in each
   * block of FANOUT entries, a run may end inside an entry (its start plus the free pages carried
   * from the entries before: found), lie inside one (its max: go down into it), or carry on
   * across it (its end, or all of it when it is wholly free).
   */
  find(npages: number): number {
    intArg(npages, 'npages', 1);
    let block = 0;
    for (let l = 0; l < this.summary.length; l++) {
      const sums = this.summary[l];
      const size = this.levelPages[l];
      const last = l === 0 ? this.levelEntries[0] : Math.min(block + FANOUT, this.levelEntries[l]);
      let run = 0;
      let base = 0;
      let into = -1;
      for (let j = block; j < last; j++) {
        const start = sums[3 * j];
        if (run + start >= npages) return run === 0 ? j * size : base;
        if (sums[3 * j + 1] >= npages) {
          into = j;
          break;
        }
        const end = sums[3 * j + 2];
        if (run > 0 && start === size) {
          run += size;
        } else {
          run = end;
          base = (j + 1) * size - end;
        }
      }
      if (into < 0) {
        if (l === 0) return -1;
        throw new Error(`page allocator: level ${l - 1} promised a run of ${npages} pages that level ${l} does not hold`);
      }
      if (l === this.summary.length - 1) return into * CHUNK_PAGES + this.#findInChunk(into, npages);
      block = into * FANOUT;
    }
    return -1; // not reached: the last level returns or throws
  }

  /**
   * Mark [p, p + n) in use as one allocation (all free: the caller found them). Returns how many
   * of them were scavenged; their scav bits are cleared, as the memory is about to be used.
   */
  allocRange(p: number, n: number): number {
    this.#checkRange(p, n);
    if (countBits(this.alloc, p, n) !== 0) {
      throw argError(RangeError, 'ERR_INVALID_ARG_VALUE', `page allocator: pages [${p}, ${p}+${n}) are not all free`);
    }
    let scavenged = 0;
    for (let q = p, end = p + n; q < end;) {
      const c = q >> 9;
      const hi = Math.min(end, (c + 1) * CHUNK_PAGES);
      const inChunk = countBits(this.scav, q, hi - q);
      this.dirty[c] -= hi - q - inChunk;
      scavenged += inChunk;
      q = hi;
    }
    this.#setBits(this.alloc, p, n, true);
    this.#setBits(this.scav, p, n, false);
    this.starts[p >> 5] |= 1 << (p & 31);
    this.#update(p, n);
    return scavenged;
  }

  /**
   * Free the allocation starting at page p (its pages were in use, so none is scavenged: they
   * join the dirty pages); returns its length. The caller checked that one starts there.
   */
  free(p: number): number {
    intArg(p, 'p', 0, this.pages - 1);
    const n = this.lengthAt(p);
    if (n === 0) throw argError(RangeError, 'ERR_INVALID_ARG_VALUE', `page allocator: no allocation starts at page ${p}`);
    this.starts[p >> 5] &= ~(1 << (p & 31));
    this.#setBits(this.alloc, p, n, false);
    this.#addDirty(p, n, 1);
    this.#update(p, n);
    return n;
  }

  /** Mark the free, unscavenged pages [p, p + n) scavenged. The summaries do not change: they track alloc only. */
  markScavenged(p: number, n: number): void {
    this.#checkRange(p, n);
    if (countBits(this.alloc, p, n) + countBits(this.scav, p, n) !== 0) {
      throw argError(RangeError, 'ERR_INVALID_ARG_VALUE', `page allocator: pages [${p}, ${p}+${n}) are not all free and unscavenged`);
    }
    this.#setBits(this.scav, p, n, true);
    this.#addDirty(p, n, -1);
  }

  /**
   * The highest run of free, unscavenged pages ending at or below page `below`, as
   * [lo, hi) packed into `out`; false if there is none. Chunks without dirty pages are skipped
   * whole, so a sweep from the top costs O(chunks) plus the runs it finds.
   */
  findDirty(below: number, out: { lo: number; hi: number }): boolean {
    intArg(below, 'below');
    objectArg(out, 'out');
    let hi = -1;
    for (let p = Math.min(below, this.pages); p > 0;) {
      const c = (p - 1) >> 9; // CHUNK_PAGES = 2^9
      if (hi < 0 && this.dirty[c] === 0) {
        p = c * CHUNK_PAGES;
        continue;
      }
      const q = p - 1;
      const w = ~(this.alloc[q >> 5] | this.scav[q >> 5]); // set = free and unscavenged
      const inWord = q & 31;
      const bits = w & mask(0, inWord + 1);
      if (hi < 0) {
        if (bits === 0) {
          p -= inWord + 1;
          continue;
        }
        const top = 31 - Math.clz32(bits);
        hi = (q - inWord) + top + 1;
        p = hi;
        continue;
      }
      // Inside a run: extend it down while the bits stay set.
      if (bits === mask(0, inWord + 1)) {
        p -= inWord + 1;
        continue;
      }
      const gap = 31 - Math.clz32(~bits & mask(0, inWord + 1)); // the highest clear bit ≤ inWord
      return answer(out, q - inWord + gap + 1, hi);
    }
    return hi < 0 ? false : answer(out, 0, hi);
  }

  /** Pages in [p, p + n) whose bit is set in bits (this allocator's alloc, scav or starts). */
  count(bits: Int32Array, p: number, n: number): number {
    if (bits !== this.alloc && bits !== this.scav && bits !== this.starts) {
      throw argError(TypeError, 'ERR_INVALID_ARG_VALUE', `The "bits" argument must be this allocator's alloc, scav or starts bitmap. ${received(bits)}`);
    }
    intArg(p, 'p', 0, this.pages);
    intArg(n, 'n', 0, this.pages - p);
    return countBits(bits, p, n);
  }

  isFree(p: number): boolean {
    intArg(p, 'p', 0, this.pages - 1);
    return (this.alloc[p >> 5] & (1 << (p & 31))) === 0;
  }

  isScavenged(p: number): boolean {
    intArg(p, 'p', 0, this.pages - 1);
    return (this.scav[p >> 5] & (1 << (p & 31))) !== 0;
  }

  /** The summary of chunk c, recomputed from its bitmap. */
  summarizeChunk(c: number): Summary {
    intArg(c, 'c', 0, this.chunks - 1);
    const out = new Int32Array(3);
    this.#summarizeInto(c, out, 0);
    return { start: out[0], max: out[1], end: out[2] };
  }

  /**
   * Write chunk c's summary, from its bitmap, into out[at..at+2] (the runtime's
   * pallocBits.summarize). A word's inner runs are measured only when they could beat the
   * longest run so far.
   */
  #summarizeInto(c: number, out: Int32Array, at: number): void {
    const alloc = this.alloc;
    let start = -1;
    let max = 0;
    let run = 0;
    for (let k = c * WORDS_PER_CHUNK, end = k + WORDS_PER_CHUNK; k < end; k++) {
      const w = alloc[k];
      if (w === 0) {
        run += 32;
        continue;
      }
      const low = ctz(w);
      run += low;
      if (start < 0) start = run;
      if (run > max) max = run;
      const high = Math.clz32(w);
      // Between the lowest and the highest set bit, a run of free pages is at most 30 - low - high long.
      if (30 - low - high > max) {
        const inner = longestOnes(~w);
        if (inner > max) max = inner;
      }
      run = high;
    }
    if (start < 0) {
      out[at] = out[at + 1] = out[at + 2] = CHUNK_PAGES;
      return;
    }
    out[at] = start;
    out[at + 1] = run > max ? run : max;
    out[at + 2] = run;
  }

  /**
   * The first broken invariant: a summary that differs from the bitmap below it, a scavenged
   * page that is not free, a dirty count that is off. Linear in the pages: for tests.
   */
  validate(): string | undefined {
    const leaf = this.summary.length - 1;
    for (let c = 0; c < this.chunks; c++) {
      const want = this.#summarizeSlowly(c);
      const have = this.summaryAt(leaf, c);
      if (want.start !== have.start || want.max !== have.max || want.end !== have.end) {
        return `chunk ${c}: summary (${have.start}, ${have.max}, ${have.end}), bitmap says (${want.start}, ${want.max}, ${want.end})`;
      }
      const p = c * CHUNK_PAGES;
      const dirty = CHUNK_PAGES - this.#countOr(p, CHUNK_PAGES);
      if (dirty !== this.dirty[c]) return `chunk ${c}: dirty count ${this.dirty[c]}, bitmap says ${dirty}`;
    }
    for (let k = 0; k < this.alloc.length; k++) {
      if ((this.alloc[k] & this.scav[k]) !== 0) return `pages ${32 * k}..${32 * k + 31}: scavenged but not free`;
      if ((this.starts[k] & ~this.alloc[k]) !== 0) return `pages ${32 * k}..${32 * k + 31}: an allocation starts on a free page`;
    }
    for (let l = leaf - 1; l >= 0; l--) {
      for (let k = 0; k < this.levelEntries[l]; k++) {
        const s = this.summary[l];
        const scratch = new Int32Array(3 * (k + 1));
        this.#merge(l, k, scratch);
        const want = [scratch[3 * k], scratch[3 * k + 1], scratch[3 * k + 2]];
        if (s[3 * k] !== want[0] || s[3 * k + 1] !== want[1] || s[3 * k + 2] !== want[2]) {
          return `level ${l} entry ${k}: summary (${s[3 * k]}, ${s[3 * k + 1]}, ${s[3 * k + 2]}), children say (${want.join(', ')})`;
        }
      }
    }
    return undefined;
  }

  /** Chunk c's summary page by page: the check on summarizeInto's word tricks. */
  #summarizeSlowly(c: number): Summary {
    let start = -1;
    let max = 0;
    let run = 0;
    for (let p = c * CHUNK_PAGES; p < (c + 1) * CHUNK_PAGES; p++) {
      if (this.isFree(p)) {
        run++;
        if (run > max) max = run;
      } else {
        if (start < 0) start = run;
        run = 0;
      }
    }
    return { start: start < 0 ? CHUNK_PAGES : start, max, end: run };
  }

  /** Pages in [p, p + n) in use or scavenged. */
  #countOr(p: number, n: number): number {
    let total = 0;
    for (let k = p >> 5; k < (p + n) >> 5; k++) total += popcount(this.alloc[k] | this.scav[k]);
    return total;
  }

  /** The first page of the first run of npages free pages inside chunk c (its summary's max says there is one). */
  #findInChunk(c: number, npages: number): number {
    let run = 0; // free pages carried from the words before
    for (let k = 0; k < WORDS_PER_CHUNK; k++) {
      const w = this.alloc[c * WORDS_PER_CHUNK + k];
      if (w === 0) {
        run += 32;
        if (run >= npages) return 32 * (k + 1) - run;
        continue;
      }
      if (run + ctz(w) >= npages) return 32 * k - run;
      if (npages <= 32) {
        const starts = runStarts(~w, npages);
        if (starts !== 0) return 32 * k + ctz(starts);
      }
      run = Math.clz32(w);
    }
    throw new Error(`page allocator: chunk ${c} has no run of ${npages} pages though its summary says so`);
  }

  /** Set (on) or clear bits [p, p + n). */
  #setBits(bits: Int32Array, p: number, n: number, on: boolean): void {
    for (let q = p, end = p + n; q < end;) {
      const lo = q & 31;
      const hi = Math.min(32, lo + (end - q));
      const m = mask(lo, hi);
      const k = q >> 5;
      bits[k] = on ? bits[k] | m : bits[k] & ~m;
      q += hi - lo;
    }
  }

  /** Add sign × each chunk's share of pages [p, p + n) to its dirty count. */
  #addDirty(p: number, n: number, sign: 1 | -1): void {
    for (let q = p, end = p + n; q < end;) {
      const c = q >> 9;
      const hi = Math.min(end, (c + 1) * CHUNK_PAGES);
      this.dirty[c] += sign * (hi - q);
      q = hi;
    }
  }

  /** Rewrite the summaries over pages [p, p + n): the chunks' from the bitmap, then each level's from below. */
  #update(p: number, n: number): void {
    const leaf = this.summary.length - 1;
    let lo = p >> 9;
    let hi = (p + n - 1) >> 9;
    const s = this.summary[leaf];
    for (let c = lo; c <= hi; c++) this.#summarizeInto(c, s, 3 * c);
    for (let l = leaf - 1; l >= 0; l--) {
      lo = Math.floor(lo / FANOUT);
      hi = Math.floor(hi / FANOUT);
      for (let k = lo; k <= hi; k++) this.#merge(l, k, this.summary[l]);
    }
  }

  /**
   * Write into out[3k..3k+2] entry k of level l as its FANOUT children merge (the runtime's
   * mergeSummaries). Missing children (past the last chunk) count as in use.
   */
  #merge(l: number, k: number, out: Int32Array): void {
    const child = this.summary[l + 1];
    const size = this.levelPages[l + 1];
    const first = k * FANOUT;
    const last = Math.min(first + FANOUT, this.levelEntries[l + 1]);
    let start = 0;
    let max = 0;
    let end = 0;
    let whole = true; // every child so far wholly free
    for (let j = first; j < last; j++) {
      const s = child[3 * j];
      const m = child[3 * j + 1];
      if (whole) start += s;
      if (end + s > max) max = end + s;
      if (m > max) max = m;
      if (s === size) {
        end += size;
      } else {
        end = child[3 * j + 2];
        whole = false;
      }
    }
    out[3 * k] = start;
    out[3 * k + 1] = max;
    out[3 * k + 2] = last - first < FANOUT ? 0 : end; // missing children: nothing free runs to the high end
  }

  /** [p, p + n), n ≥ 1, inside the allocator. */
  #checkRange(p: number, n: number): void {
    intArg(p, 'p', 0, this.pages - 1);
    intArg(n, 'n', 1, this.pages - p);
  }

  static {
    guardReceivers(this, (o) => #brand in o);
  }

  /** Only objects this constructor made have it: the receiver check's brand. */
  readonly #brand = true;
}

/** findDirty's answer written into the caller's object; a frozen or trapping one is refused with a code. */
function answer(out: { lo: number; hi: number }, lo: number, hi: number): true {
  try {
    out.lo = lo;
    out.hi = hi;
  } catch (cause) {
    throw Object.assign(argError(TypeError, 'ERR_INVALID_ARG_VALUE', 'The "out" argument must be a writable object'), { cause });
  }
  return true;
}
