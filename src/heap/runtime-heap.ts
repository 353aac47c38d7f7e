/**
 * What the runtime around a heap (GcModel, BackgroundScavenger, the lab, the verification against
 * the kernel) needs from it, so that the 2019 span heap (MHeap) and the Go 1.14-style page heap
 * (PageSpans over PageHeap) run under the same GC, scavenger pacing and checks. Invariant: nothing
 * here exposes how a heap finds free pages; a heap's spans are read-only to its callers.
 */
import type { Sys } from '../sys/sys';
import type { SpanState } from './span';
import { isSpan } from './span';
import { MHeap } from './mheap';
import { PageSpan, PageSpans } from './pagespans';
import { argError, received } from '../native/args';

/** `value` if it is a heap the runtime can drive (an MHeap or a PageSpans this package made), else a coded TypeError. */
export function runtimeHeapArg<S extends HeapSpan = HeapSpan>(value: unknown, name = 'heap'): RuntimeHeap<S> {
  if (!MHeap.is(value) && !PageSpans.is(value)) {
    throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be an MHeap or a PageSpans. ${received(value)}`);
  }
  return value as unknown as RuntimeHeap<S>;
}

/** `value` if it is a span `heap` made (a Span of that MHeap, a PageSpan of that PageSpans), else a coded TypeError. */
export function heapSpanArg<S extends HeapSpan>(heap: RuntimeHeap<S>, value: unknown, name = 'span'): S {
  const ok = isSpan(value) ? value.heap === (heap as unknown) : PageSpan.is(value) && value.owner === (heap as unknown);
  if (!ok) throw argError(TypeError, 'ERR_INVALID_ARG_TYPE', `The "${name}" argument must be a span this heap handed out. ${received(value)}`);
  return value as unknown as S;
}

/** A span as its callers read it: MHeap's Span, or the page heap's handle. */
export interface HeapSpan {
  readonly base: number;
  readonly npages: number;
  readonly bytes: number;
  readonly end: number;
  readonly state: SpanState;
  readonly scavenged: boolean;
  /** Whole, aligned huge pages inside the span. */
  hugePages(): number;
}

export interface RuntimeHeap<S extends HeapSpan = HeapSpan> {
  readonly sys: Sys;
  readonly pageSize: number;
  readonly physPageSize: number;
  readonly physHugePageSize: number;
  readonly arenaBase: number;
  readonly heapSys: number;
  readonly heapInuse: number;
  readonly heapFree: number;
  readonly heapReleased: number;
  /** heapSys − heapReleased: the runtime's estimate of the heap's RSS. */
  readonly retained: number;
  /** Whole huge pages inside free, unscavenged memory (unscavHugePages), kept incrementally. */
  readonly freeHugePages: number;
  readonly closed: boolean;
  /** The scavenger's retained goal, set by its pacer. */
  scavengeRetainedGoal: number;
  /** Bytes the heap released on allocation (scavengeIfNeededLocked). */
  readonly releasedOnAlloc: number;
  alloc(npages: number): S;
  free(span: S): void;
  scavenge(nbytes: number): number;
  /** freeHugePages counted the slow way. */
  recountFreeHugePages(): number;
  /** Every span (allocations and free runs), in address order. */
  spans(): IterableIterator<HeapSpan>;
  /** A GC cycle ended; the program clock reached nowMs. */
  gcDone(): void;
  tick(nowMs: number): void;
  /** Throws ERR_HUGESPAN_INVARIANT with the first broken invariant. */
  checkInvariants(): void;
  close(): void;
}
