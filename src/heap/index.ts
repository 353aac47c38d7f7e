/** The heap layer: the Go 1.13 span heap over the runtime's OS layer (../sys). */

export { MHeap } from './mheap';
export type { CoalescePolicy, HeapSnapshot, MHeapOptions, SpanSnapshot } from './mheap';
export { Span, hugePagesIn } from './span';
export type { SpanOwner, SpanState } from './span';
export { BackgroundScavenger, startScavenger } from './scavenger';
export type { ScavengeStep, ScavengerOptions } from './scavenger';
export { Rand } from './rand';
export { GcModel, DEFAULT_HEAP_MINIMUM, INITIAL_TRIGGER_RATIO } from './gc';
export type { GcCycle, GcOptions, PaceHook } from './gc';
export type { HeapError, HeapErrorCode } from './errors';
