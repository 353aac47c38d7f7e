/** The verification layer: the heap's beliefs against the kernel's per-frame truth. */
export { verify } from './report';
export type { Verification, SpanVerdict, Tally } from './report';
export { collapse } from './collapse';
export type { CollapseResult } from './collapse';
export { frameTruth } from './frames';
export type { Frame, FrameTruth } from './frames';
