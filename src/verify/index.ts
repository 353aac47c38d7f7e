export { verify } from './report';
export type { Verification, SpanVerdict, Tally } from './report';
export { collapse } from './collapse';
export type { CollapseResult } from './collapse';
export { frameTruth } from './frames';
export type { Frame, FrameTruth } from './frames';
