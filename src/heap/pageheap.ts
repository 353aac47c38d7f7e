/**
 * PageHeap: a page heap in the style of Go 1.14 (runtime/mheap.go over mpagealloc.go), over one
 * reserved arena and the same OS layer as MHeap, for the lab to compare with the 2019 treap heap.
 * Between calls: PageAlloc's bitmap marks exactly the in-use pages and the unmapped rest of the
 * arena, and its start bits each allocation's first page; `frameDirty[f]` counts frame f's free
 * unscavenged pages and `hugeFree` the frames wholly free and unscavenged (the runtime's
 * unscavHugePages); memstats add up: heapSys = heapInuse + heapFree + heapReleased.
 *
 * No span objects: alloc returns the base address and free takes it back, as the runtime's
 * pageAlloc.alloc/free do; the length is the page allocator's (a start bit per page, where the
 * runtime has the mspan). A free that does not name a live allocation's base is refused, but an
 * address that was freed and handed out again names the new allocation (as in C or the runtime:
 * no generations; the lab's PageSpans handles add that check).
 *
 * Huge pages: the seed's idea, per frame — when a free makes a huge-page frame wholly free and
 * unscavenged, sysHugePage it, undoing the NOHUGEPAGE marks sysUnused left at scavenged edges.
 * That step is the seed's, not Go 1.14's (Go 1.14's free re-advises nothing): this is Go 1.14's
 * page allocator plus the seed's rule, and the lab labels it so.
 * The scavenger releases from the highest address down (Go 1.14's order, one pass; not 1.13's
 * huge-spans-first walk), cutting at a huge page boundary where the run holds one.
 */

import type { Sys } from '../sys/sys';
import { Sys as SysClass } from '../sys/sys';
import { argError, boolArg, guardReceivers, intArg, numberArg, oneOfArg, optional, optionsArg, received, uintArg, thisError } from '../native/args';
import { HeapAccounts } from './memstats';
import { heapError, hex } from './errors';
import { PageAlloc } from './pagealloc';
import { wholeHugePages } from './span';
import type { SpanState } from './span';
import type { HeapSnapshot } from './mheap';

export interface PageHeapOptions {
  /** Address space reserved up front; default 1 GiB, rounded up to whole huge pages. */
  arenaBytes?: number;
  /** The runtime page: a power of two, a multiple of the OS page, at most a huge page. Default 8 KiB. */
  pageSize?: number;
  /** The arena is mapped in steps of this many bytes; default 64 MiB. */
  growBytes?: number;
}

/** MHeap's HeapSnapshot without the policy (this heap has one, fixed). */
export type PageHeapSnapshot = Omit<HeapSnapshot, 'policy'>;

/** A run of pages as the lab's verification reads it: one allocation, or a maximal free run in one scavenged state. */
export class PageRun {
  constructor(
    readonly base: number,
    readonly npages: number,
    readonly state: SpanState,
    readonly scavenged: boolean,
    readonly bytes: number,
    private readonly h: number,
  ) {
    uintArg(base, 'base');
    intArg(npages, 'npages', 1);
    oneOfArg(state, 'state', ['inUse', 'free', 'dead'] as const);
    boolArg(scavenged, 'scavenged');
    uintArg(bytes, 'bytes');
    uintArg(h, 'h');
  }

  readonly #brand = true;

  static {
    guardReceivers(this, (o) => #brand in o);
  }

  get end(): number {
    return this.base + this.bytes;
  }

  hugePages(): number {
    return wholeHugePages(this.base, this.end, this.h);
  }
}

const MiB = 1024 * 1024;

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** The options, copied and type-checked before the heap does anything; their values are checked where they are used. */
function pageHeapOptions(value: unknown): PageHeapOptions {
  const o = optionsArg<PageHeapOptions>(value, 'options', ['arenaBytes', 'pageSize', 'growBytes']);
  return {
    arenaBytes: optional(o.arenaBytes, numberArg, 'options.arenaBytes'),
    pageSize: optional(o.pageSize, numberArg, 'options.pageSize'),
    growBytes: optional(o.growBytes, numberArg, 'options.growBytes'),
  };
}

export class PageHeap extends HeapAccounts {
  readonly kind = 'pagealloc';
  readonly sys: Sys;
  readonly pageSize: number;
  readonly physPageSize: number;
  readonly physHugePageSize: number;
  readonly arenaBase: number;
  readonly arenaBytes: number;
  readonly growBytes: number;
  /** The bitmap and its summaries, by page index from arenaBase. */
  readonly pages: PageAlloc;
  /** Huge-page frames (2 MiB without huge pages, for the bookkeeping only) and their free unscavenged pages. */
  private readonly frameBytes: number;
  private readonly framePages: number;
  private readonly frameDirty: Int32Array;
  private hugeFree = 0;
  private mapped = 0;
  private isClosed = false;
  /** Reused by scavenge: findDirty's answer. */
  private readonly run = { lo: 0, hi: 0 };

  constructor(sys: Sys, options?: PageHeapOptions) {
    super();
    if (!SysClass.is(sys)) throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "sys" argument must be a Sys. ${received(sys)}`);
    const opts = pageHeapOptions(options);
    this.sys = sys;
    this.physPageSize = sys.physPageSize;
    this.physHugePageSize = sys.physHugePageSize;
    this.frameBytes = this.physHugePageSize || 2 * MiB;
    this.pageSize = opts.pageSize ?? Math.max(8192, sys.physPageSize);
    // A page never straddles a frame, so a frame's huge page is whole pages: the per-frame count works.
    if (!isPowerOfTwo(this.pageSize) || this.pageSize % this.physPageSize !== 0 || this.pageSize > this.frameBytes) {
      throw heapError(RangeError, 'ERR_INVALID_ARG_VALUE',
        `pageSize must be a power of two, a multiple of the ${this.physPageSize}-byte OS page and at most ${this.frameBytes}; got ${opts.pageSize}`);
    }
    const arenaBytes = opts.arenaBytes ?? 1024 * MiB;
    if (!Number.isSafeInteger(arenaBytes) || arenaBytes <= 0) {
      throw heapError(RangeError, 'ERR_INVALID_ARG_VALUE', `arenaBytes must be a positive integer; got ${arenaBytes}`);
    }
    this.arenaBytes = Math.ceil(arenaBytes / this.frameBytes) * this.frameBytes;
    this.growBytes = opts.growBytes ?? 64 * MiB;
    if (!Number.isSafeInteger(this.growBytes) || this.growBytes <= 0 || this.growBytes % this.frameBytes !== 0) {
      throw heapError(RangeError, 'ERR_INVALID_ARG_VALUE',
        `growBytes must be a positive multiple of ${this.frameBytes} (the huge page); got ${this.growBytes}`);
    }
    const npages = this.arenaBytes / this.pageSize;
    if (npages > 2 ** 30) {
      throw heapError(RangeError, 'ERR_INVALID_ARG_VALUE', `arenaBytes ${arenaBytes} is more than 2^30 pages of ${this.pageSize} bytes`);
    }
    this.pages = new PageAlloc(npages);
    this.framePages = this.frameBytes / this.pageSize;
    this.frameDirty = new Int32Array(this.arenaBytes / this.frameBytes);
    this.arenaBase = sys.sysReserve(this.arenaBytes); // aligned to the huge page: frames start at arenaBase
  }

  /** Huge-page frames wholly free and unscavenged (0 without huge pages). */
  get freeHugePages(): number {
    return this.physHugePageSize === 0 ? 0 : this.hugeFree;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Allocate npages pages, first fit, growing the mapped arena if nothing fits; returns the base address. */
  alloc(npages: number): number {
    if (!PageHeap.is(this)) throw thisError('PageHeap', this);
    this.#checkOpen();
    if (typeof npages !== 'number') {
      throw heapError(TypeError, 'ERR_INVALID_ARG_TYPE', `npages must be a number; got ${typeof npages}`);
    }
    if (!Number.isSafeInteger(npages) || npages < 1) {
      throw heapError(RangeError, 'ERR_OUT_OF_RANGE', `npages must be a positive safe integer; got ${npages}`);
    }
    let p = this.pages.find(npages);
    if (p < 0) {
      this.#grow(npages);
      p = this.pages.find(npages);
    }
    const addr = this.arenaBase + p * this.pageSize;
    const bytes = npages * this.pageSize;
    const scavenged = this.pages.count(this.pages.scav, p, npages);
    // The OS call comes first: if it fails, the heap is untouched. Like the runtime, the whole
    // allocation is sysUsed when any of it was scavenged.
    if (scavenged > 0) this.sys.sysUsed(addr, bytes);
    for (let q = p, end = p + npages; q < end;) {
      const f = Math.floor(q / this.framePages);
      const hi = Math.min(end, (f + 1) * this.framePages);
      this.#addDirty(f, scavenged === 0 ? q - hi : q - hi + this.pages.count(this.pages.scav, q, hi - q));
      q = hi;
    }
    this.pages.allocRange(p, npages);
    this.memstats.heapReleased -= scavenged * this.pageSize;
    this.memstats.heapFree -= (npages - scavenged) * this.pageSize;
    this.memstats.heapInuse += bytes;
    if (scavenged > 0) this.scavengeIfNeeded(scavenged * this.pageSize);
    return addr;
  }

  /** Free the allocation at addr (a base alloc returned); frames it leaves wholly free and unscavenged get sysHugePage. */
  free(addr: number): void {
    if (!PageHeap.is(this)) throw thisError('PageHeap', this);
    this.#checkOpen();
    if (typeof addr !== 'number') {
      throw heapError(TypeError, 'ERR_INVALID_ARG_TYPE', `free() takes an address alloc() returned; got ${typeof addr}`);
    }
    if (!Number.isSafeInteger(addr) || addr < this.arenaBase || addr >= this.arenaBase + this.mapped) {
      throw heapError(Error, 'ERR_HUGESPAN_FOREIGN_SPAN', `${addr} is not inside this heap's mapped arena`);
    }
    const p = (addr - this.arenaBase) / this.pageSize;
    const n = Number.isInteger(p) ? this.pages.lengthAt(p) : 0;
    if (n === 0) {
      if (Number.isInteger(p) && this.pages.isFree(p)) {
        throw heapError(Error, 'ERR_HUGESPAN_DOUBLE_FREE', `the page at ${hex(addr)} is already free`);
      }
      throw heapError(Error, 'ERR_HUGESPAN_STALE_SPAN', `${hex(addr)} is not the base of a live allocation`);
    }
    // The advice first, so that a failing madvise changes nothing; adjacent frames in one call.
    if (this.physHugePageSize !== 0) {
      let lo = -1;
      let hi = -1;
      this.#forFrames(p, n, (f, a, b) => {
        if (this.frameDirty[f] + (b - a) !== this.framePages) return;
        if (f !== hi) {
          if (lo >= 0) this.sys.sysHugePage(this.#frameAddr(lo), (hi - lo) * this.frameBytes);
          lo = f;
        }
        hi = f + 1;
      });
      if (lo >= 0) this.sys.sysHugePage(this.#frameAddr(lo), (hi - lo) * this.frameBytes);
    }
    for (let q = p, end = p + n; q < end;) {
      const f = Math.floor(q / this.framePages);
      const hi = Math.min(end, (f + 1) * this.framePages);
      this.#addDirty(f, hi - q);
      q = hi;
    }
    this.pages.free(p);
    const bytes = n * this.pageSize;
    this.memstats.heapInuse -= bytes;
    this.memstats.heapFree += bytes;
  }

  /** The length in pages of the live allocation at addr, or 0 if addr is not one's base. */
  sizeOf(addr: number): number {
    numberArg(addr, 'addr');
    const p = (addr - this.arenaBase) / this.pageSize;
    return Number.isInteger(p) ? this.pages.lengthAt(p) : 0;
  }

  /**
   * Release about nbytes of free memory to the OS, from the highest address down, each run's top
   * first; returns the bytes released (whole pages, so possibly more than asked).
   */
  scavenge(nbytes: number): number {
    this.#checkOpen();
    if (typeof nbytes !== 'number') {
      throw heapError(TypeError, 'ERR_INVALID_ARG_TYPE', `nbytes must be a number; got ${typeof nbytes}`);
    }
    if (!(nbytes >= 0)) throw heapError(RangeError, 'ERR_OUT_OF_RANGE', `nbytes must be ≥ 0; got ${nbytes}`);
    let released = 0;
    let below = this.mapped / this.pageSize;
    while (released < nbytes && this.pages.findDirty(below, this.run)) {
      const { hi } = this.run;
      const lo = this.#scavengeCut(this.run.lo, hi, nbytes - released);
      const bytes = (hi - lo) * this.pageSize;
      this.sys.sysUnused(this.arenaBase + lo * this.pageSize, bytes); // first: a failure changes nothing
      this.#forFrames(lo, hi - lo, (f, a, b) => this.#addDirty(f, -(b - a)));
      this.pages.markScavenged(lo, hi - lo);
      this.memstats.heapFree -= bytes;
      this.memstats.heapReleased += bytes;
      released += bytes;
      below = lo;
    }
    return released;
  }

  scavengeAll(): number {
    return this.scavenge(Infinity);
  }

  /** The lab's hooks, which this heap does not need: it has no policies. */
  tick(nowMs: number): void {
    numberArg(nowMs, 'nowMs');
  }

  gcDone(): void {}

  /** hugeFree counted the slow way: whole free unscavenged frames, page by page. */
  recountFreeHugePages(): number {
    if (this.physHugePageSize === 0) return 0;
    let n = 0;
    for (let f = 0; f * this.frameBytes < this.mapped; f++) {
      let whole = true;
      for (let p = f * this.framePages; whole && p < (f + 1) * this.framePages; p++) {
        whole = this.pages.isFree(p) && !this.pages.isScavenged(p);
      }
      if (whole) n++;
    }
    return n;
  }

  /** Every allocation and every maximal free run of one scavenged state, in address order. */
  *spans(): IterableIterator<PageRun> {
    const end = this.mapped / this.pageSize;
    for (let p = 0; p < end;) {
      let n = this.pages.lengthAt(p);
      let state: SpanState = 'inUse';
      let scavenged = false;
      if (n === 0) {
        state = 'free';
        scavenged = this.pages.isScavenged(p);
        n = 1;
        while (p + n < end && this.pages.isFree(p + n) && this.pages.isScavenged(p + n) === scavenged) n++;
      }
      yield new PageRun(this.arenaBase + p * this.pageSize, n, state, scavenged, n * this.pageSize, this.physHugePageSize);
      p += n;
    }
  }

  /** Plain data, deterministic for a given history: equal snapshots mean equal heaps. */
  snapshot(): PageHeapSnapshot {
    return {
      arenaBase: this.arenaBase,
      arenaBytes: this.arenaBytes,
      pageSize: this.pageSize,
      closed: this.isClosed,
      ...this.memstats,
      freeHugePages: this.freeHugePages,
      spans: [...this.spans()].map(({ base, npages, state, scavenged }) => ({ base, npages, state, scavenged })),
    };
  }

  /** Throw ERR_HUGESPAN_INVARIANT with the first broken invariant; for tests, linear in pages. */
  checkInvariants(): void {
    const fail = (message: string): never => {
      throw heapError(Error, 'ERR_HUGESPAN_INVARIANT', message);
    };
    const problem = this.pages.validate();
    if (problem) fail(`page allocator: ${problem}`);
    const end = this.mapped / this.pageSize;
    const count = { heapInuse: 0, heapFree: 0, heapReleased: 0 };
    if (this.pages.grown !== end) fail(`${this.pages.grown} pages grown into the page allocator, ${end} mapped`);
    for (let p = 0; p < end;) {
      const n = this.pages.lengthAt(p);
      if (n > 0) {
        count.heapInuse += n * this.pageSize;
        p += n;
      } else {
        if (!this.pages.isFree(p)) fail(`page ${p} is in use but no allocation starts at or before it`);
        count[this.pages.isScavenged(p) ? 'heapReleased' : 'heapFree'] += this.pageSize;
        p++;
      }
    }
    for (let p = end; p < this.pages.pages; p++) {
      if (this.pages.isFree(p) || this.pages.isScavenged(p)) fail(`page ${p}, past the mapped arena, is free or scavenged`);
    }
    for (let f = 0; f < this.frameDirty.length; f++) {
      const lo = f * this.framePages;
      const dirty = f * this.frameBytes < this.mapped ? this.framePages - this.#orCount(lo, this.framePages) : 0;
      if (dirty !== this.frameDirty[f]) fail(`frame ${f}: ${this.frameDirty[f]} free unscavenged pages counted, ${dirty} in the bitmap`);
    }
    const recount = this.recountFreeHugePages();
    if (recount !== this.freeHugePages) fail(`freeHugePages is ${this.freeHugePages}, recount says ${recount}`);
    for (const key of ['heapInuse', 'heapFree', 'heapReleased'] as const) {
      if (count[key] !== this.memstats[key]) fail(`${key} is ${this.memstats[key]}, the pages add up to ${count[key]}`);
    }
    const { heapSys, heapInuse, heapFree, heapReleased } = this.memstats;
    if (heapSys !== this.mapped) fail(`heapSys is ${heapSys} but ${this.mapped} bytes are mapped`);
    if (heapInuse + heapFree + heapReleased !== heapSys) fail(`heapInuse + heapFree + heapReleased ≠ heapSys ${heapSys}`);
  }

  /** Unmap the arena. Every later call is refused. */
  close(): void {
    if (this.isClosed) return;
    this.sys.sysFree(this.arenaBase);
    this.isClosed = true;
  }

  /** Pages in [p, p + n) in use or scavenged. */
  #orCount(p: number, n: number): number {
    let k = 0;
    for (let q = p; q < p + n; q++) if (!this.pages.isFree(q) || this.pages.isScavenged(q)) k++;
    return k;
  }

  /**
   * Where to cut the free run [lo, hi) so that [cut, hi) holds about `want` bytes (MHeap's
   * scavengeSplitBase): a page boundary, moved down to a huge page boundary when that stays inside
   * the run, so that no huge page is split; lo when the whole run goes.
   */
  #scavengeCut(lo: number, hi: number, want: number): number {
    if ((hi - lo) * this.pageSize <= want) return lo;
    let cut = hi - Math.ceil(want / this.pageSize);
    if (this.physHugePageSize > this.pageSize) {
      const aligned = cut - (cut % this.framePages);
      if (aligned >= lo) cut = aligned;
    }
    return cut;
  }

  /** Map the next step of the arena (at least npages) as free scavenged pages; refused, with nothing changed, when it cannot. */
  #grow(npages: number): void {
    const ask = npages * this.pageSize;
    const left = this.arenaBytes - this.mapped;
    if (ask > left) {
      throw heapError(Error, 'ERR_HUGESPAN_ARENA_EXHAUSTED',
        `cannot allocate ${npages} pages (${ask} bytes): ${left} of the arena's ${this.arenaBytes} bytes are left to map`);
    }
    // Free pages just below the mapped end join the new ones, so a smaller step may do; the
    // runtime grows by at least what was asked, and so does this.
    const size = Math.min(Math.ceil(ask / this.growBytes) * this.growBytes, left);
    this.sys.sysMap(this.arenaBase + this.mapped, size);
    this.pages.grow(size / this.pageSize);
    this.mapped += size;
    this.memstats.heapSys += size;
    this.memstats.heapReleased += size;
  }

  /** fn(frame, lo, hi) for each frame's share [lo, hi) of pages [p, p + n). */
  #forFrames(p: number, n: number, fn: (f: number, lo: number, hi: number) => void): void {
    for (let q = p, end = p + n; q < end;) {
      const f = Math.floor(q / this.framePages);
      const hi = Math.min(end, (f + 1) * this.framePages);
      fn(f, q, hi);
      q = hi;
    }
  }

  /** Change frame f's count of free unscavenged pages, keeping hugeFree. */
  #addDirty(f: number, delta: number): void {
    const was = this.frameDirty[f] === this.framePages;
    this.frameDirty[f] += delta;
    const now = this.frameDirty[f] === this.framePages;
    if (was !== now) this.hugeFree += now ? 1 : -1;
  }

  #frameAddr(f: number): number {
    return this.arenaBase + f * this.frameBytes;
  }

  #checkOpen(): void {
    if (this.isClosed) throw heapError(Error, 'ERR_HUGESPAN_HEAP_CLOSED', 'the heap was closed');
  }

  /** Whether `o` is a PageHeap this constructor made. */
  static is(o: unknown): o is PageHeap {
    return typeof o === 'object' && o !== null && #brand in o;
  }

  readonly #brand = true;

  static {
    guardReceivers(this, (o) => #brand in o, ['alloc', 'free']);
  }
}
