/**
 * The accounting layer's public API: a Node service can read its own (or any readable
 * process's) huge-page coverage, buckets and reasons exactly as `hugespan report` prints them.
 */
export { processReport, streamProcessReport, systemReport, hostJson, thpJson } from './report';
export type { ProcessReportHead } from './report';
export { REASONS, meaningOf, predictionOf } from './reasons';
export type { Reason } from './reasons';
export { ProcessError } from './proc';
export type { ProcessErrorCode } from './proc';
export { SCHEMA } from './schema';
export type * from './schema';
export { OWNERS, attributeOwners, ownerSnapshot, ownersOf, FIXES, fixesFor, fixEnv } from './owners';
export type { Owner, Attribution, OwnerMap, OwnerSnapshot, Runtime, Fix } from './owners';
export type { ThpBySize } from './thp-sizes';
