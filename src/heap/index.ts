/** The heap layer: the Go 1.13 span heap, and the Go 1.14-style page heap beside it, over the runtime's OS layer (../sys). */

export { MHeap } from './mheap';
export type { CoalescePolicy, HeapSnapshot, MHeapOptions, SpanSnapshot } from './mheap';
export { Span, hugePagesIn } from './span';
export { PageAlloc, CHUNK_PAGES, FANOUT } from './pagealloc';
export type { Summary } from './pagealloc';
export { PageHeap, PageRun } from './pageheap';
export type { PageHeapOptions, PageHeapSnapshot } from './pageheap';
export { PageSpans, PageSpan } from './pagespans';
export type { HeapSpan, RuntimeHeap } from './runtime-heap';
export type { SpanOwner, SpanState } from './span';
export { BackgroundScavenger, startScavenger } from './scavenger';
export type { ScavengeStep, ScavengerOptions } from './scavenger';
export { Rand } from './rand';
export { GcModel, DEFAULT_HEAP_MINIMUM, INITIAL_TRIGGER_RATIO } from './gc';
export type { GcCycle, GcOptions, PaceHook } from './gc';
export type { HeapError, HeapErrorCode } from './errors';
