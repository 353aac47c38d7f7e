/**
 * hugespan's public API, layer by layer: native (mappings, madvise, smaps, exact coverage,
 * host facts) → sys (the runtime's OS layer) → heap (the Go 2019 span heap) → verify (the
 * heap's count against the kernel) → lab (the policy comparison the CLI runs).
 */
export { Mapping, mappings } from './native/mapping';
export type { MapOptions } from './native/mapping';
export { readSmaps, readSmapsRollup, parseSmaps, vmaAt, vmasIn } from './native/smaps';
export type { Vma, Pid } from './native/smaps';
export { coverage, pagemapScanSupported } from './native/coverage';
export type { Coverage, Run } from './native/coverage';
export { hostInfo, thpSettings, hugePageSize, hugePagesAvailable, thpDisabledFor, thpDisabledForSelf, setThpDisabledForSelf } from './native/host';
export type { HostInfo, ThpSettings } from './native/host';
export type { Advice, Memory } from './sys/memory';
export { Sys } from './sys/sys';
export type { SysOptions, SysCalls } from './sys/sys';
export { LinuxMemory } from './sys/linux';
export { FakeMemory } from './sys/fake';
export * from './heap';
export * from './verify';
export { runLab } from './lab/run';
export type { LabOptions, LabResult } from './lab/run';
export { processReport, streamProcessReport, systemReport, REASONS, meaningOf, ProcessError, SCHEMA, OWNERS, attributeOwners, ownerSnapshot, ownersOf, FIXES, fixesFor, fixEnv } from './account';
export type { Owner, Attribution, OwnerMap, OwnerSnapshot, Runtime, Fix, OwnerJson, OwnersJson } from './account';
export type { Reason, ProcessReport, ProcessReportHead, SystemReport, AccountJson, FrameJson, VmaJson, OtherHugeJson, TotalsJson } from './account';
