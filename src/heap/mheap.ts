/**
 * MHeap: the Go 1.13 page heap over one reserved arena. Between calls: the spans tile the mapped
 * part of the arena; free spans are coalesced, so no two adjacent free spans share a scavenged
 * state; the free set holds exactly the free spans; memstats add up: heapSys = heapInuse + heapFree + heapReleased.
 * The span map names every page of an in-use span and the first and last page of a free one (by
 * slot in the span table), and slotState holds each live span's state.
 */

import type { Sys } from '../sys/sys';
import { HeapAccounts } from './memstats';
import { heapError, hex } from './errors';
import { Rand } from './rand';
import { Span, isSpan } from './span';
import { Sys as SysClass } from '../sys/sys';
import { argError, guardReceivers, intArg, numberArg, oneOfArg, optional, optionsArg, received, thisError } from '../native/args';
import type { SpanOwner, SpanState } from './span';
import { FreeTreap, UNSCAVENGED_HUGE, UNSCAVENGED_SMALL } from './treap';
import { makePolicy, isPolicyName, POLICY_NAMES } from './policy';
import type { HeapPolicy, PolicyHeap, PolicyName } from './policy';

/**
 * `coalesce` (the seed, 31c4e09, as refined by its follow-up): when coalescing creates a new whole
 * huge page in a free unscavenged span, MADV_HUGEPAGE the whole span, undoing sysUnused's
 * NOHUGEPAGE marks. `none`: never (the runtime before the seed).
 */
export type CoalescePolicy = PolicyName;

export interface MHeapOptions {
  /** Address space reserved up front; default 1 GiB, rounded up to whole huge pages. */
  arenaBytes?: number;
  /** The runtime page: a power of two, a multiple of the OS page. Default 8 KiB, or the OS page if larger. */
  pageSize?: number;
  /** The arena is mapped in chunks of this many bytes (the runtime's heapArenaBytes); default 64 MiB. */
  growBytes?: number;
  /** The huge-page policy (src/heap/policy): a name, default 'coalesce'. */
  policy?: PolicyName;
  /** Seeds the free set's treap priorities; default 1. */
  seed?: number;
}

export interface SpanSnapshot {
  base: number;
  npages: number;
  state: SpanState;
  scavenged: boolean;
}

/** Plain data, deterministic for a given history: equal snapshots mean equal heaps. */
export interface HeapSnapshot {
  arenaBase: number;
  arenaBytes: number;
  pageSize: number;
  policy: CoalescePolicy;
  closed: boolean;
  heapSys: number;
  heapInuse: number;
  heapFree: number;
  heapReleased: number;
  freeHugePages: number;
  spans: SpanSnapshot[];
}

const MiB = 1024 * 1024;

/** The span map costs 4 bytes per page of the arena, allocated up front: 2^28 pages (1 GiB of map, 2 TiB of 8 KiB pages) at most. */
const MAX_ARENA_PAGES = 2 ** 28;

/** The options, copied and type-checked before the heap does anything; their values are checked where they are used. */
function mheapOptions(value: unknown): MHeapOptions {
  const o = optionsArg<MHeapOptions>(value, 'options', ['arenaBytes', 'pageSize', 'growBytes', 'policy', 'seed']);
  return {
    arenaBytes: optional(o.arenaBytes, numberArg, 'options.arenaBytes'),
    pageSize: optional(o.pageSize, numberArg, 'options.pageSize'),
    growBytes: optional(o.growBytes, numberArg, 'options.growBytes'),
    policy: optional(o.policy, (v, n) => oneOfArg(v, n, POLICY_NAMES), 'options.policy'),
    seed: optional(o.seed, (v, n) => intArg(v, n, 0, 2 ** 32 - 1), 'options.seed'),
  };
}

/** A span's state as the span map's side table keeps it: in use (or dead) 0, else one bit per scavenged state. */
const FREE_UNSCAVENGED = 1;
const FREE_SCAVENGED = 2;

function stateBits(s: Span): number {
  return s.state !== 'free' ? 0 : s.scavenged ? FREE_SCAVENGED : FREE_UNSCAVENGED;
}

function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

function alignDown(n: number, a: number): number {
  return n - (n % a);
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

export class MHeap extends HeapAccounts implements SpanOwner, PolicyHeap {
  readonly sys: Sys;
  readonly pageSize: number;
  readonly physPageSize: number;
  readonly physHugePageSize: number;
  readonly arenaBase: number;
  readonly arenaBytes: number;
  readonly growBytes: number;
  readonly policy: PolicyName;
  /** The policy's hooks. */
  readonly hooks: HeapPolicy;
  /** In-use bytes per huge page frame (2 MiB frames without huge pages), for the policies. */
  private inUseFrames = new Float64Array(0);
  private readonly frameBytes: number;

  /**
   * page index → the slot in spanTable of the span holding it: every page of an in-use span, at
   * least the first and last page of a free one (other entries may be stale). Slots rather than
   * span references: one flat typed array, which the GC never scans and whose stores need no
   * write barrier, at half the bytes of an array of pointers.
   */
  private readonly spanMap: Int32Array;
  /** slot → live span. Slot 0 is never handed out, so a 0 in spanMap means "no span". */
  private readonly spanTable: (Span | undefined)[] = [undefined];
  /** Slots of dead spans, handed out again first so that spanTable stays as small as the live spans. */
  private readonly freeSlots: number[] = [];
  /**
   * slot → its span's stateBits (0 for an unused slot). Coalescing reads a neighbour's state here,
   * so a neighbour that cannot merge (most of them) is never loaded: at 100 000 spans, loading a
   * span object is a cache miss, this small array is not.
   */
  private slotState = new Uint8Array(1024);
  private readonly freeSet: FreeTreap;
  /** Bytes of the arena mapped so far, from arenaBase up. */
  private mapped = 0;
  private isClosed = false;
  /** The runtime's memstats, in bytes. heapFree is heap_idle − heap_released. */

  constructor(sys: Sys, options?: MHeapOptions) {
    super();
    if (!SysClass.is(sys)) throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "sys" argument must be a Sys. ${received(sys)}`);
    const opts = mheapOptions(options);
    this.sys = sys;
    this.physPageSize = sys.physPageSize;
    this.physHugePageSize = sys.physHugePageSize;
    this.pageSize = opts.pageSize ?? Math.max(8192, sys.physPageSize);
    // pageSize ≥ physPageSize makes every span boundary an OS page boundary: nothing is ever released
    // in part of an OS page, and the runtime's realign step has nothing to do.
    if (!isPowerOfTwo(this.pageSize) || this.pageSize % this.physPageSize !== 0) {
      throw heapError(RangeError, 'ERR_INVALID_ARG_VALUE',
        `pageSize must be a power of two and a multiple of the ${this.physPageSize}-byte OS page; got ${opts.pageSize}`);
    }
    // Both are powers of two, so the larger is a multiple of the other.
    const unit = Math.max(this.pageSize, this.physHugePageSize);
    const arenaBytes = opts.arenaBytes ?? 1024 * MiB;
    if (!Number.isSafeInteger(arenaBytes) || arenaBytes <= 0) {
      throw heapError(RangeError, 'ERR_INVALID_ARG_VALUE', `arenaBytes must be a positive integer; got ${arenaBytes}`);
    }
    this.arenaBytes = alignUp(arenaBytes, unit);
    if (this.arenaBytes / this.pageSize > MAX_ARENA_PAGES) {
      throw heapError(RangeError, 'ERR_OUT_OF_RANGE', `arenaBytes ${arenaBytes} is more than ${MAX_ARENA_PAGES} pages of ${this.pageSize} bytes`);
    }
    this.growBytes = opts.growBytes ?? 64 * MiB;
    if (!Number.isSafeInteger(this.growBytes) || this.growBytes <= 0 || this.growBytes % unit !== 0) {
      throw heapError(RangeError, 'ERR_INVALID_ARG_VALUE',
        `growBytes must be a positive multiple of ${unit} (the huge page and the runtime page); got ${this.growBytes}`);
    }
    this.policy = opts.policy ?? 'coalesce';
    if (!isPolicyName(this.policy)) {
      throw heapError(RangeError, 'ERR_INVALID_ARG_VALUE', `policy must be one of ${POLICY_NAMES.join(', ')}; got ${String(this.policy)}`);
    }
    this.hooks = makePolicy(this.policy);
    // The policy owns sysUnused's NOHUGEPAGE edges (Go 1.13 marks them; the later designs do not).
    if (!this.hooks.nohugepageEdges) sys.edges = false;
    this.frameBytes = this.physHugePageSize || 2 * MiB;
    this.freeSet = new FreeTreap(new Rand(opts.seed ?? 1));
    this.spanMap = new Int32Array(this.arenaBytes / this.pageSize);
    this.arenaBase = sys.sysReserve(this.arenaBytes);
    this.inUseFrames = new Float64Array(Math.ceil(this.arenaBytes / this.frameBytes));
    this.hooks.attach(this);
  }

  /** Whole huge pages inside free, unscavenged spans (the runtime's unscavHugePages), kept incrementally. */
  get freeHugePages(): number {
    return this.freeSet.unscavHugePages;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Allocate npages runtime pages: first fit, growing the mapped arena if nothing fits. */
  alloc(npages: number): Span {
    if (!MHeap.is(this)) throw thisError('MHeap', this);
    this.#checkOpen();
    if (typeof npages !== 'number') {
      throw heapError(TypeError, 'ERR_INVALID_ARG_TYPE', `npages must be a number; got ${typeof npages}`);
    }
    if (!Number.isSafeInteger(npages) || npages < 1) {
      throw heapError(RangeError, 'ERR_OUT_OF_RANGE', `npages must be a positive safe integer; got ${npages}`);
    }
    let s = this.#place(npages);
    const bytes = npages * this.pageSize;
    // Unscavenge only the pages handed out. The OS call comes first: if it fails, the heap is untouched.
    if (s.scavenged) this.sys.sysUsed(s.base, bytes);
    // The caller always gets a fresh span object, so a handle that was freed can never be revived.
    const piece = this.#newSpan(s.base, npages, 'inUse', false);
    if (s.scavenged) this.memstats.heapReleased -= bytes;
    else this.memstats.heapFree -= bytes;
    this.memstats.heapInuse += bytes;
    if (s.npages === npages) {
      this.freeSet.remove(s);
      this.#kill(s);
    } else {
      // Split the low pages off in place: the remainder keeps its scavenged flag and its place in the free set.
      s.base += bytes;
      s.npages -= npages;
      this.freeSet.refresh(s);
      this.#setSpan(s.base, s);
    }
    this.#setSpans(piece);
    this.#countInUse(piece.base, piece.end, +1);
    this.hooks.changed?.(piece.base, piece.end);
    // Allocating scavenged memory grew the RSS: make up for it, but only past the scavenger's goal
    // (mheap.go allocSpanLocked → scavengeIfNeededLocked). piece is in use, so it cannot coalesce.
    if (s.scavenged) this.scavengeIfNeeded(bytes);
    return piece;
  }

  /**
   * The free span to allocate npages from, its low pages being the allocation: the policy's
   * choice (a free span is split so that the chosen address starts one), or first fit; grows the
   * arena when nothing fits. Refused, with nothing changed, when the arena cannot hold npages.
   */
  #place(npages: number): Span {
    let at = this.hooks.place?.(npages);
    if (at === 'grow') {
      if (this.arenaBytes - this.mapped >= npages * this.pageSize) {
        this.#grow(npages);
        at = this.hooks.place!(npages);
      }
      if (at === 'grow') at = undefined; // the arena is full: take first fit, as the runtime would
    }
    if (at !== undefined) {
      const s = this.spanOf(at);
      if (!s || s.state !== 'free' || at + npages * this.pageSize > s.end) {
        throw heapError(Error, 'ERR_HUGESPAN_INVARIANT', `policy ${this.policy} placed ${npages} pages at ${hex(at)}, not inside a free span`);
      }
      return at === s.base ? s : this.#splitFree(s, at);
    }
    let s = this.freeSet.find(npages);
    if (!s) {
      this.#grow(npages);
      s = this.freeSet.find(npages)!;
    }
    return s;
  }

  /** Split free span s at `at` (a page boundary inside it): s keeps the low part, the new span (same state) the rest. */
  #splitFree(s: Span, at: number): Span {
    const t = this.#newSpan(at, (s.end - at) / this.pageSize, 'free', s.scavenged);
    s.npages -= t.npages;
    this.freeSet.refresh(s);
    this.#setSpan(s.end - this.pageSize, s);
    this.#setSpan(t.base, t);
    this.#setSpan(t.end - this.pageSize, t);
    this.freeSet.insert(t);
    return t;
  }

  #countInUse(base: number, end: number, sign: 1 | -1): void {
    const f = this.frameBytes;
    for (let a = base; a < end;) {
      const i = Math.floor((a - this.arenaBase) / f);
      const next = Math.min(end, this.arenaBase + (i + 1) * f);
      this.inUseFrames[i] += sign * (next - a);
      a = next;
    }
  }

  /** In-use bytes inside frame i (PolicyHeap). */
  frameInUse(i: number): number {
    intArg(i, 'i');
    return this.inUseFrames[i] ?? 0;
  }

  /** Free spans in address order (PolicyHeap). */
  freeSpans(): IterableIterator<Span> {
    return this.freeSet[Symbol.iterator]();
  }

  /** Free, unscavenged bytes inside [lo, hi) (PolicyHeap). */
  dirtyIn(lo: number, hi: number): number {
    numberArg(lo, 'lo');
    numberArg(hi, 'hi');
    let dirty = 0;
    for (let addr = Math.max(lo, this.arenaBase); addr < Math.min(hi, this.#mappedEnd);) {
      const s = this.spanOf(addr)!;
      const end = Math.min(s.end, hi);
      if (s.state === 'free' && !s.scavenged) dirty += end - addr;
      addr = end;
    }
    return dirty;
  }

  /** PolicyHeap: release the free unscavenged pages inside [lo, hi), from the top down, until at least max bytes went. */
  releaseRange(lo: number, hi: number, max = Infinity): number {
    this.#checkOpen();
    numberArg(lo, 'lo');
    numberArg(hi, 'hi');
    numberArg(max, 'max', 0);
    lo = Math.max(lo, this.arenaBase);
    hi = Math.min(hi, this.#mappedEnd);
    let released = 0;
    for (let addr = hi; addr > lo && released < max;) {
      let s = this.spanOf(addr - 1)!;
      const from = Math.max(s.base, lo);
      if (s.state !== 'free' || s.scavenged) {
        addr = from;
        continue;
      }
      const to = Math.min(s.end, addr);
      if (to < s.end) this.#splitFree(s, to); // s keeps [s.base, to)
      if (from > s.base) s = this.#splitFree(s, from);
      released += this.#scavengeSpan(s, Infinity);
      addr = from;
    }
    return released;
  }

  /** PolicyHeap: the Go 1.13 scavenger walk. */
  scavengeTopDown(nbytes: number): number {
    this.#checkOpen();
    numberArg(nbytes, 'nbytes', 0);
    let released = 0;
    for (const filter of [UNSCAVENGED_HUGE, UNSCAVENGED_SMALL]) {
      for (let s = this.freeSet.findLast(filter); s && released < nbytes; s = this.freeSet.findLast(filter)) {
        released += this.#scavengeSpan(s, nbytes - released);
      }
    }
    return released;
  }

  /** PolicyHeap: the OS layer's advice, for policies that manage huge pages themselves. */
  sysHugePage(v: number, n: number): void {
    this.sys.sysHugePage(v, n);
  }

  sysNoHugePage(v: number, n: number): void {
    this.sys.madvise(v, n, 'nohugepage');
  }

  sysCollapse(v: number, n: number): void {
    this.sys.madvise(v, n, 'collapse');
  }

  /** A GC cycle ended (GcModel calls this after its sweep). */
  gcDone(): void {
    this.hooks.gcDone?.();
  }

  /** The program clock reached nowMs. */
  tick(nowMs: number): void {
    numberArg(nowMs, 'nowMs');
    this.hooks.tick?.(nowMs);
  }

  /** Return an in-use span to the heap: mark it free, coalesce it with its free neighbours, insert it. */
  free(span: Span): void {
    if (!MHeap.is(this)) throw thisError('MHeap', this);
    this.#checkOpen();
    this.#checkHeld(span);
    const bytes = span.bytes;
    const [base, end] = [span.base, span.end];
    this.#coalesce(span); // first: its OS call, if any, precedes every change
    this.#countInUse(base, end, -1);
    this.hooks.changed?.(base, end);
    span.state = 'free';
    this.slotState[span.slot] = FREE_UNSCAVENGED; // in use, so not scavenged
    this.memstats.heapInuse -= bytes;
    this.memstats.heapFree += bytes;
  }

  /**
   * Refuse, changing nothing, a span this heap does not hold in use: not a Span the constructor
   * made (a copy, a forgery), another heap's, one whose slot in the span table is not its own
   * (dead: merged away or allocated whole), one that is free, or one whose base and length are
   * not what the span map holds for it (written to by its holder). The heap's own records
   * decide, never the span's word for its state.
   */
  #checkHeld(span: Span): void {
    if (!isSpan(span)) {
      throw heapError(TypeError, 'ERR_INVALID_ARG_TYPE', `free() takes a Span returned by alloc(). ${received(span)}`);
    }
    if (span.heap !== this) {
      throw heapError(Error, 'ERR_HUGESPAN_FOREIGN_SPAN', `span at ${hex(span.base)} belongs to another heap`);
    }
    const slot = span.slot;
    if (!(slot > 0) || this.spanTable[slot] !== span) {
      throw heapError(Error, 'ERR_HUGESPAN_STALE_SPAN',
        `span object (last at ${hex(span.base)}, ${span.npages} pages) no longer describes a live span: ` +
          'it was freed, then merged away or allocated again');
    }
    if (this.slotState[slot] !== 0) {
      throw heapError(Error, 'ERR_HUGESPAN_DOUBLE_FREE', `span at ${hex(span.base)} is already free`);
    }
    const { base, npages } = span;
    const first = this.#pageIndex(base);
    const last = first + npages - 1;
    if (!(Number.isSafeInteger(npages) && npages >= 1 && Number.isSafeInteger(base) && base === this.arenaBase + first * this.pageSize &&
      this.spanMap[first] === slot && last < this.spanMap.length && this.spanMap[last] === slot &&
      (first === 0 || this.spanMap[first - 1] !== slot) && this.spanMap[last + 1] !== slot)) {
      throw heapError(Error, 'ERR_HUGESPAN_FOREIGN_SPAN', `span at ${hex(base)} (${npages} pages) is not the span this heap handed out: its fields were changed`);
    }
  }

  /**
   * Put s (being freed, or just grown or scavenged; not in the free set) into the free set, merged
   * with the free neighbours in its scavenged state. A neighbour in the other state is left alone:
   * the runtime would realign their boundary to an OS page boundary, which pageSize ≥ physPageSize
   * makes a no-op.
   */
  #coalesce(s: Span): void {
    const before = s.base > this.arenaBase ? this.#mergeable(s, this.spanMap[this.#pageIndex(s.base) - 1]) : undefined;
    const after = s.end < this.#mappedEnd ? this.#mergeable(s, this.spanMap[this.#pageIndex(s.end)]) : undefined;
    if (this.hooks.merging && !s.scavenged && (before || after)) {
      // Before merging, so that a failing madvise changes nothing (the seed's hook: see policy/coalesce.ts).
      const hpParts = (before?.hugePages() ?? 0) + s.hugePages() + (after?.hugePages() ?? 0);
      this.hooks.merging(before?.base ?? s.base, after?.end ?? s.end, hpParts);
    }
    // s absorbs its neighbours and takes over one's place in the free set (the runtime removes both
    // and inserts s; handing a node over is the same set for half the treap work). `after` leaves
    // first, so that the grown s never overlaps a span still held.
    if (after) {
      if (before) this.freeSet.remove(after);
      s.npages += after.npages;
      this.#kill(after);
      this.#setSpan(s.end - this.pageSize, s);
    }
    if (before) {
      s.base = before.base;
      s.npages += before.npages;
      this.#kill(before);
      this.#setSpan(s.base, s);
    }
    const heir = before ?? after;
    if (heir) this.freeSet.replace(heir, s);
    else this.freeSet.insert(s);
  }

  /** The span in `slot` if it is free in s's scavenged state, so that s should absorb it. */
  #mergeable(s: Span, slot: number): Span | undefined {
    return this.slotState[slot] === (s.scavenged ? FREE_SCAVENGED : FREE_UNSCAVENGED) ? this.spanTable[slot] : undefined;
  }

  /**
   * Release about nbytes of free memory to the OS, from the highest address down: first the
   * unscavenged spans holding a huge page, then the rest. Returns the bytes released (whole
   * pages, so possibly more than asked).
   */
  scavenge(nbytes: number): number {
    this.#checkOpen();
    if (typeof nbytes !== 'number') {
      throw heapError(TypeError, 'ERR_INVALID_ARG_TYPE', `nbytes must be a number; got ${typeof nbytes}`);
    }
    if (!(nbytes >= 0)) {
      throw heapError(RangeError, 'ERR_OUT_OF_RANGE', `nbytes must be ≥ 0; got ${nbytes}`);
    }
    if (nbytes === Infinity) return this.scavengeTopDown(nbytes); // scavengeAll: every policy releases everything
    return this.hooks.scavenge ? this.hooks.scavenge(nbytes) : this.scavengeTopDown(nbytes);
  }

  /** Release every free page. */
  scavengeAll(): number {
    return this.scavenge(Infinity);
  }

  /** Release the top of the free unscavenged span s: at least `want` bytes if s has them, else all of s. */
  #scavengeSpan(s: Span, want: number): number {
    const base = this.#scavengeSplitBase(s, want);
    const nbytes = s.end - base;
    // The OS call comes first: if it fails, the heap has not changed.
    this.sys.sysUnused(base, nbytes);
    let piece = s;
    if (base === s.base) {
      this.freeSet.remove(s);
    } else {
      piece = this.#newSpan(base, nbytes / this.pageSize, 'free', false);
      s.npages -= piece.npages;
      this.freeSet.refresh(s);
      this.#setSpan(s.end - this.pageSize, s);
      this.#setSpan(piece.base, piece);
      this.#setSpan(piece.end - this.pageSize, piece);
    }
    piece.scavenged = true;
    this.slotState[piece.slot] = FREE_SCAVENGED;
    this.memstats.heapFree -= nbytes;
    this.memstats.heapReleased += nbytes;
    // Coalesce now so that no two adjacent free spans share a scavenged state.
    this.#coalesce(piece);
    return nbytes;
  }

  /**
   * Where to cut s so that [base, s.end) holds about `want` bytes (the runtime's scavengeSplit): a
   * page boundary, moved down to a huge page boundary when that boundary is inside s so that no huge
   * page is split; s.base when the whole span goes.
   */
  #scavengeSplitBase(s: Span, want: number): number {
    if (s.bytes <= want) return s.base;
    // Whole bytes, as the runtime's uintptr: a fraction of a byte from the scavenger's pace
    // would vanish against an address (s.end - 1e-3 === s.end) and release nothing.
    let base = alignDown(s.end - Math.max(1, Math.ceil(want)), this.pageSize);
    const h = this.physHugePageSize;
    if (h > this.pageSize && alignDown(base, h) >= s.base) base = alignDown(base, h);
    return base;
  }

  /**
   * Map the next chunk of the arena (at least npages, whole growBytes where the arena allows) and
   * add it as a free scavenged span: fresh memory is not resident. Refused, with nothing changed,
   * when the rest of the arena cannot hold npages.
   */
  #grow(npages: number): void {
    const ask = npages * this.pageSize;
    const left = this.arenaBytes - this.mapped;
    if (ask > left) {
      throw heapError(Error, 'ERR_HUGESPAN_ARENA_EXHAUSTED',
        `cannot allocate ${npages} pages (${ask} bytes): ${left} of the arena's ${this.arenaBytes} bytes are left to map`);
    }
    const size = Math.min(alignUp(ask, this.growBytes), left);
    const v = this.#mappedEnd;
    this.sys.sysMap(v, size);
    this.mapped += size;
    this.memstats.heapSys += size;
    this.memstats.heapReleased += size;
    const s = this.#newSpan(v, size / this.pageSize, 'free', true);
    this.#setSpan(s.base, s);
    this.#setSpan(s.end - this.pageSize, s);
    this.#coalesce(s);
    this.hooks.grown?.(v, size);
  }

  /** The live span holding addr, or undefined outside the mapped arena. */
  spanOf(addr: number): Span | undefined {
    numberArg(addr, 'addr');
    if (addr < this.arenaBase || addr >= this.#mappedEnd) return undefined;
    const s = this.#spanAt(this.#pageIndex(addr));
    // Every page of an in-use span is mapped; inside a free span the entry may be stale, so ask the free set.
    if (s && s.state !== 'dead' && s.contains(addr)) return s;
    const f = this.freeSet.floor(addr);
    return f && f.contains(addr) ? f : undefined;
  }

  /** Every span, in address order. */
  *spans(): IterableIterator<Span> {
    for (let addr = this.arenaBase; addr < this.#mappedEnd;) {
      const s = this.#spanAt(this.#pageIndex(addr))!;
      yield s;
      addr = s.end;
    }
  }

  snapshot(): HeapSnapshot {
    return {
      arenaBase: this.arenaBase,
      arenaBytes: this.arenaBytes,
      pageSize: this.pageSize,
      policy: this.policy,
      closed: this.isClosed,
      ...this.memstats,
      freeHugePages: this.freeHugePages,
      spans: [...this.spans()].map(({ base, npages, state, scavenged }) => ({ base, npages, state, scavenged })),
    };
  }

  /** freeHugePages counted the slow way, over the free set. */
  recountFreeHugePages(): number {
    return this.freeSet.recountUnscavHugePages();
  }

  /** Throw ERR_HUGESPAN_INVARIANT with the first broken invariant; for tests, slow (linear in pages). */
  checkInvariants(): void {
    const fail = (message: string): never => {
      throw heapError(Error, 'ERR_HUGESPAN_INVARIANT', message);
    };
    const count = { heapInuse: 0, heapFree: 0, heapReleased: 0 };
    const freeSpans: Span[] = [];
    let prev: Span | undefined;
    for (let addr = this.arenaBase; addr < this.#mappedEnd;) {
      const s = this.#spanAt(this.#pageIndex(addr));
      const at = (): string => `span at ${hex(addr)}`; // formatted only on failure
      if (!s) return fail(`gap: no span starts at ${hex(addr)}`);
      if (s.base !== addr) fail(`${at()}: the span map points to [${hex(s.base)}, ${hex(s.end)}) (gap or overlap)`);
      if (s.state === 'dead') fail(`${at()} is dead but still mapped`);
      if (s.heap !== this) fail(`${at()} belongs to another heap`);
      if (this.slotState[s.slot] !== stateBits(s)) fail(`${at()}: the span map's state for it is stale`);
      if (!Number.isSafeInteger(s.npages) || s.npages < 1) fail(`${at()} has ${s.npages} pages`);
      if (s.end > this.#mappedEnd) fail(`${at()} ends at ${hex(s.end)}, past the mapped arena's end ${hex(this.#mappedEnd)}`);
      if (this.#spanAt(this.#pageIndex(s.end - this.pageSize)) !== s) fail(`${at()}: its last page maps to another span`);
      if (s.state === 'inUse') {
        if (s.scavenged) fail(`${at()} is in use but scavenged`);
        const first = this.#pageIndex(s.base);
        const stray = this.spanMap.subarray(first, first + s.npages).findIndex((slot) => slot !== s.slot);
        if (stray >= 0) fail(`${at()}: page ${hex(s.base + stray * this.pageSize)} of the in-use span maps elsewhere`);
        count.heapInuse += s.bytes;
      } else {
        if (prev?.state === 'free' && prev.scavenged === s.scavenged) {
          fail(`${at()} and the free span before it are both ${s.scavenged ? 'scavenged' : 'unscavenged'}: not coalesced`);
        }
        count[s.scavenged ? 'heapReleased' : 'heapFree'] += s.bytes;
        freeSpans.push(s);
      }
      prev = s;
      addr = s.end;
    }
    const treapProblem = this.freeSet.validate();
    if (treapProblem) fail(`free set: ${treapProblem}`);
    const held = [...this.freeSet];
    if (held.length !== freeSpans.length || held.some((s, i) => s !== freeSpans[i])) {
      fail(`free set holds ${held.length} spans, the arena has ${freeSpans.length} free spans, or they differ`);
    }
    const recount = this.recountFreeHugePages();
    if (recount !== this.freeHugePages) fail(`freeHugePages is ${this.freeHugePages}, recount says ${recount}`);
    for (const key of ['heapInuse', 'heapFree', 'heapReleased'] as const) {
      if (count[key] !== this.memstats[key]) fail(`${key} is ${this.memstats[key]}, the spans add up to ${count[key]}`);
    }
    const { heapSys, heapInuse, heapFree, heapReleased } = this.memstats;
    if (heapSys !== this.mapped) fail(`heapSys is ${heapSys} but ${this.mapped} bytes are mapped`);
    if (heapInuse + heapFree + heapReleased !== heapSys) {
      fail(`heapInuse ${heapInuse} + heapFree ${heapFree} + heapReleased ${heapReleased} ≠ heapSys ${heapSys}`);
    }
  }

  /** Unmap the arena. Every later call on the heap is refused. */
  close(): void {
    if (this.isClosed) return;
    this.sys.sysFree(this.arenaBase);
    this.isClosed = true;
  }

  get #mappedEnd(): number {
    return this.arenaBase + this.mapped;
  }

  /** The index in spanMap of the page holding addr (the arena base is page-aligned). */
  #pageIndex(addr: number): number {
    // Not addr % pageSize: addresses are past 2^31, where % is a slow floating-point remainder.
    return Math.floor((addr - this.arenaBase) / this.pageSize);
  }

  /** The span spanMap names for page i (possibly a stale entry: see spanMap). */
  #spanAt(i: number): Span | undefined {
    return this.spanTable[this.spanMap[i]];
  }

  #setSpan(addr: number, s: Span): void {
    this.spanMap[this.#pageIndex(addr)] = s.slot;
  }

  #setSpans(s: Span): void {
    const first = this.#pageIndex(s.base);
    this.spanMap.fill(s.slot, first, first + s.npages);
  }

  /** A new span of this heap, with a slot in the span table. */
  #newSpan(base: number, npages: number, state: SpanState, scavenged: boolean): Span {
    const s = new Span(this, base, npages, state, scavenged);
    s.slot = this.freeSlots.pop() ?? this.spanTable.length;
    this.spanTable[s.slot] = s;
    if (s.slot === this.slotState.length) {
      const grown = new Uint8Array(2 * this.slotState.length);
      grown.set(this.slotState);
      this.slotState = grown;
    }
    this.slotState[s.slot] = stateBits(s);
    return s;
  }

  /** s was merged away or allocated whole: it dies for good and its slot is free again. */
  #kill(s: Span): void {
    s.state = 'dead';
    this.spanTable[s.slot] = undefined;
    this.slotState[s.slot] = 0;
    this.freeSlots.push(s.slot);
    s.slot = 0;
  }

  #checkOpen(): void {
    if (this.isClosed) throw heapError(Error, 'ERR_HUGESPAN_HEAP_CLOSED', 'the heap was closed');
  }

  /** Whether `o` is an MHeap this constructor made. */
  static is(o: unknown): o is MHeap {
    return typeof o === 'object' && o !== null && #brand in o;
  }

  readonly #brand = true;

  static {
    guardReceivers(this, (o) => #brand in o, ['alloc', 'free']);
  }
}
