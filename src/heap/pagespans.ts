/**
 * PageSpans: the page heap behind span handles, so the lab's runtime (GcModel, the scavenger, the
 * verification) drives it exactly as it drives MHeap. Invariant: a handle is `inUse` from the
 * alloc that made it until its free, then `dead` for good; only a live handle reaches
 * PageHeap.free, so a stale handle is refused even after its address was handed out again.
 *
 * The handles are the lab's convenience, not the page heap's bookkeeping: PageHeap itself
 * allocates no object per alloc (the benchmark drives it by address).
 */
import { heapError, hex } from './errors';
import type { PageHeap } from './pageheap';
import type { HeapSpan, RuntimeHeap } from './runtime-heap';
import { hugePagesIn } from './span';
import type { SpanState } from './span';

export class PageSpan implements HeapSpan {
  state: SpanState = 'inUse';
  readonly scavenged = false;

  constructor(
    readonly owner: PageSpans,
    readonly base: number,
    readonly npages: number,
    readonly bytes: number,
  ) {}

  get end(): number {
    return this.base + this.bytes;
  }

  hugePages(): number {
    return hugePagesIn(this.base, this.end, this.owner.physHugePageSize);
  }
}

export class PageSpans implements RuntimeHeap<PageSpan> {
  constructor(readonly pages: PageHeap) {}

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
    return new PageSpan(this, base, npages, npages * this.pages.pageSize);
  }

  free(span: PageSpan): void {
    if (!(span instanceof PageSpan)) throw heapError(TypeError, 'ERR_INVALID_ARG_TYPE', 'free() takes a span returned by alloc()');
    if (span.owner !== this) throw heapError(Error, 'ERR_HUGESPAN_FOREIGN_SPAN', `span at ${hex(span.base)} belongs to another heap`);
    if (span.state !== 'inUse') throw heapError(Error, 'ERR_HUGESPAN_STALE_SPAN', `span at ${hex(span.base)} was freed already`);
    this.pages.free(span.base);
    span.state = 'dead';
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
