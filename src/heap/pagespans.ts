/**
 * PageSpans: the page heap behind span handles, so the lab's runtime (GcModel, the scavenger, the
 * verification) drives it exactly as it drives MHeap. Invariant: a handle is `inUse` from the
 * alloc that made it until its free, then `dead` for good; only a live handle reaches
 * PageHeap.free, so a stale handle is refused even after its address was handed out again.
 *
 * A handle is a capability: PageSpans remembers the handles it made and has not yet taken back, and
 * free takes only those; an object built by hand (even with PageSpan's constructor) or a handle
 * whose fields were changed names nothing.
 *
 * The handles are the lab's convenience, not the page heap's bookkeeping: PageHeap itself
 * allocates no object per alloc (the benchmark drives it by address).
 */
import { heapError, hex } from './errors';
import { PageHeap } from './pageheap';
import { argError, guardReceivers, intArg, received, uintArg } from '../native/args';
import type { HeapSpan, RuntimeHeap } from './runtime-heap';
import { wholeHugePages } from './span';
import type { SpanState } from './span';

/** Handles freed: their state is 'dead' (a handle is frozen, so its state is kept here). */
const dead = new WeakSet<PageSpan>();

export class PageSpan implements HeapSpan {
  get state(): SpanState {
    return dead.has(this) ? 'dead' : 'inUse';
  }
  readonly scavenged = false;

  constructor(
    readonly owner: PageSpans,
    readonly base: number,
    readonly npages: number,
    readonly bytes: number,
  ) {
    if (!PageSpans.is(owner)) throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "owner" argument must be a PageSpans. ${received(owner)}`);
    uintArg(base, 'base');
    intArg(npages, 'npages', 1);
    uintArg(bytes, 'bytes');
  }

  readonly #brand = true;

  /** Whether `o` is a PageSpan this constructor made (its fields can then be read safely). */
  static is(o: unknown): o is PageSpan {
    return typeof o === 'object' && o !== null && #brand in o;
  }

  static {
    guardReceivers(this, (o) => #brand in o);
  }

  get end(): number {
    return this.base + this.bytes;
  }

  hugePages(): number {
    return wholeHugePages(this.base, this.end, this.owner.physHugePageSize);
  }
}

export class PageSpans implements RuntimeHeap<PageSpan> {
  /** The handles alloc made and free has not taken back. */
  readonly #live = new WeakSet<PageSpan>();

  constructor(readonly pages: PageHeap) {
    if (!PageHeap.is(pages)) throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "pages" argument must be a PageHeap. ${received(pages)}`);
  }

  /** Whether `o` is a PageSpans this constructor made. */
  static is(o: unknown): o is PageSpans {
    return typeof o === 'object' && o !== null && #live in o;
  }

  static {
    guardReceivers(this, (o) => #live in o);
  }

  get sys() {
    return this.pages.sys;
  }
  get pageSize() {
    return this.pages.pageSize;
  }
  get physPageSize() {
    return this.pages.physPageSize;
  }
  get physHugePageSize() {
    return this.pages.physHugePageSize;
  }
  get arenaBase() {
    return this.pages.arenaBase;
  }
  get heapSys() {
    return this.pages.heapSys;
  }
  get heapInuse() {
    return this.pages.heapInuse;
  }
  get heapFree() {
    return this.pages.heapFree;
  }
  get heapReleased() {
    return this.pages.heapReleased;
  }
  get retained() {
    return this.pages.retained;
  }
  get freeHugePages() {
    return this.pages.freeHugePages;
  }
  get closed() {
    return this.pages.closed;
  }
  get scavengeRetainedGoal() {
    return this.pages.scavengeRetainedGoal;
  }
  set scavengeRetainedGoal(goal: number) {
    this.pages.scavengeRetainedGoal = goal;
  }
  get releasedOnAlloc() {
    return this.pages.releasedOnAlloc;
  }

  alloc(npages: number): PageSpan {
    const base = this.pages.alloc(npages);
    const span = new PageSpan(this, base, npages, npages * this.pages.pageSize);
    Object.freeze(span);
    this.#live.add(span);
    return span;
  }

  free(span: PageSpan): void {
    if (!PageSpan.is(span)) throw heapError(TypeError, 'ERR_INVALID_ARG_TYPE', `free() takes a span returned by alloc(). ${received(span)}`);
    if (!this.#live.has(span)) {
      if (span.owner !== this) throw heapError(Error, 'ERR_HUGESPAN_FOREIGN_SPAN', `span at ${hex(span.base)} belongs to another heap`);
      throw heapError(Error, 'ERR_HUGESPAN_STALE_SPAN', `span at ${hex(span.base)} is not one this heap holds in use (freed already, or never handed out)`);
    }
    this.pages.free(span.base);
    this.#live.delete(span);
    dead.add(span);
  }

  scavenge(nbytes: number): number {
    return this.pages.scavenge(nbytes);
  }

  recountFreeHugePages(): number {
    return this.pages.recountFreeHugePages();
  }

  spans(): IterableIterator<HeapSpan> {
    return this.pages.spans();
  }

  gcDone(): void {
    this.pages.gcDone();
  }

  tick(nowMs: number): void {
    this.pages.tick(nowMs);
  }

  checkInvariants(): void {
    this.pages.checkInvariants();
  }

  close(): void {
    this.pages.close();
  }
}
