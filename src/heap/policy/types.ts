/**
 * One interface for the huge-page policies the lab compares. A policy decides; the heap
 * (src/heap/mheap.ts) does: every policy runs on the same spans, free set, coalescing, scavenging
 * primitives and OS layer, and may only steer them through these hooks and the heap's
 * PolicyHeap mechanisms. Invariant: a policy never edits a span or a counter itself.
 */
import type { Span } from '../span';

export const POLICY_NAMES = ['none', 'coalesce', 'density', 'filler', 'hpa'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** What the heap offers a policy: read its layout, and act only through these mechanisms. */
export interface PolicyHeap {
  readonly pageSize: number;
  readonly physPageSize: number;
  readonly physHugePageSize: number;
  readonly arenaBase: number;
  /** Bytes of the arena mapped so far. */
  readonly heapSys: number;
  /** The live span holding addr. */
  spanOf(addr: number): Span | undefined;
  /** Free spans in address order. */
  freeSpans(): IterableIterator<Span>;
  /** In-use bytes inside the huge page frame at index i (frames from arenaBase). */
  frameInUse(i: number): number;
  /**
   * Release the free unscavenged memory inside [lo, hi) (whole runtime pages), from the top down,
   * stopping once at least `max` bytes went (default: all); returns the bytes.
   */
  releaseRange(lo: number, hi: number, max?: number): number;
  /** Free, unscavenged bytes inside [lo, hi) (dirty, in jemalloc's word). */
  dirtyIn(lo: number, hi: number): number;
  /** The Go 1.13 scavenger walk: top-down, huge-page spans first. */
  scavengeTopDown(nbytes: number): number;
  /** The OS layer's MADV_HUGEPAGE / MADV_NOHUGEPAGE / MADV_COLLAPSE, counted and timed. */
  sysHugePage(v: number, n: number): void;
  sysNoHugePage(v: number, n: number): void;
  sysCollapse(v: number, n: number): void;
}

export interface HeapPolicy {
  readonly name: PolicyName;
  /**
   * The release advice of the allocator this policy models, by default: Go 1.13 MADV_FREE (none,
   * coalesce); Go ≥ 1.16 MADV_DONTNEED (density, 1.21); TCMalloc's SystemRelease MADV_DONTNEED
   * (filler); jemalloc's pages_purge_forced MADV_DONTNEED (hpa). The lab may override it.
   */
  readonly release: 'free' | 'dontneed';
  /** sysUnused marks partial huge pages at its edges MADV_NOHUGEPAGE (Go 1.13: yes). */
  readonly nohugepageEdges: boolean;
  /** Called once, before the heap's first growth. */
  attach(heap: PolicyHeap): void;
  /** The arena grew by [v, v + n) (mapped, not resident, a free scavenged span). */
  grown?(v: number, n: number): void;
  /**
   * A free unscavenged span [base, end) is about to be formed by coalescing parts holding
   * `hpParts` whole huge pages between them. Called before the merge.
   */
  merging?(base: number, end: number, hpParts: number): void;
  /** Where npages should go: an address inside a free span, or 'grow' (map more first), or undefined for the heap's first fit. */
  place?(npages: number): number | 'grow' | undefined;
  /** [base, end) changed between free and in use. */
  changed?(base: number, end: number): void;
  /** Release about nbytes the policy's way (default: the Go 1.13 walk). Returns bytes released. */
  scavenge?(nbytes: number): number;
  /** A GC cycle ended (after its sweep). */
  gcDone?(): void;
  /** The program clock reached nowMs (policies with delays). */
  tick?(nowMs: number): void;
}
