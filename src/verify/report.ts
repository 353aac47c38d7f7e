/**
 * The heap's beliefs checked against the kernel. For every whole huge page frame inside a span:
 * does the heap count it (free, unscavenged: the runtime's freeHugePages), may the kernel back
 * it, and is it backed. Invariant: `free.claimed` is the heap's own incremental counter, never
 * recomputed from the kernel, so `countMinusTruth` is the runtime's error, not ours.
 */
import type { RuntimeHeap } from '../heap/runtime-heap';
import { runtimeHeapArg } from '../heap/runtime-heap';
import { frameTruth, Frame } from './frames';

export interface SpanVerdict {
  base: number;
  npages: number;
  state: 'inUse' | 'free';
  scavenged: boolean;
  /** span.hugePages(): whole aligned huge pages inside it, as the runtime counts them. */
  hugePages: number;
  eligible: number;
  backed: number;
  /** Frames inside the span whose VMA is marked MADV_NOHUGEPAGE. */
  nh: number;
  /** Bytes of the span on huge pages, counting the span's share of frames it shares. */
  hugeBytes: number;
}

export interface Tally {
  /** What the heap counts (free: its freeHugePages counter; inUse: the sum of hugePages()). */
  claimed: number;
  eligible: number;
  backed: number;
  /** Bytes on huge pages, including the spans' shares of frames they share with others. */
  hugeBytes: number;
}

export interface Verification {
  exact: boolean;
  hugePageSize: number;
  /** Free, unscavenged spans: what the scavenger's pacing believes. */
  free: Tally & { recount: number };
  inUse: Tally;
  /** free.claimed - free.backed: huge pages the heap counts that the kernel does not back. */
  countMinusTruth: number;
  /** free.claimed - free.eligible: counted huge pages the kernel is not even allowed to back. */
  countMinusEligible: number;
  /**
   * The mapped arena, from the per-frame truth (clipped to the arena, so a neighbouring VMA
   * that merged with it is not counted): present, huge and `nh` bytes.
   */
  arena: { start: number; end: number; anonHugePages: number; rss: number; nhBytes: number };
  spans: SpanVerdict[];
}

export function verify(heap: RuntimeHeap): Verification {
  runtimeHeapArg(heap);
  const h = heap.physHugePageSize;
  const start = heap.arenaBase;
  const end = heap.arenaBase + heap.heapSys;
  const truth = h > 0 && end > start ? frameTruth(start, end, h) : { exact: true, frames: [] as Frame[] };
  const frameAt = (addr: number) => truth.frames[(addr - start) / h];

  const free: Tally & { recount: number } = { claimed: heap.freeHugePages, recount: heap.recountFreeHugePages(), eligible: 0, backed: 0, hugeBytes: 0 };
  const inUse: Tally = { claimed: 0, eligible: 0, backed: 0, hugeBytes: 0 };
  const spans: SpanVerdict[] = [];
  for (const s of heap.spans()) {
    if (s.state === 'dead') continue;
    const v: SpanVerdict = { base: s.base, npages: s.npages, state: s.state, scavenged: s.scavenged, hugePages: s.hugePages(), eligible: 0, backed: 0, nh: 0, hugeBytes: 0 };
    // Every frame the span touches, whole or not: a huge frame puts all of the span's bytes
    // in it on a huge page, whoever else shares the frame.
    for (let f = Math.floor(s.base / h) * h; h > 0 && f < s.end; f += h) {
      if (truth.frames.length && frameAt(f)?.huge) v.hugeBytes += Math.min(f + h, s.end) - Math.max(f, s.base);
    }
    if (v.hugePages > 0) {
      const first = Math.ceil(s.base / h) * h;
      for (let f = first; f + h <= s.end; f += h) {
        const fr = frameAt(f);
        if (fr.eligible) v.eligible++;
        if (fr.huge) v.backed++;
        if (fr.nh) v.nh++;
      }
    }
    const t = s.state === 'inUse' ? inUse : s.scavenged ? undefined : free;
    if (t) {
      if (t === inUse) t.claimed += v.hugePages;
      t.eligible += v.eligible;
      t.backed += v.backed;
      t.hugeBytes += v.hugeBytes;
    }
    spans.push(v);
  }

  const arena = { start, end, anonHugePages: 0, rss: 0, nhBytes: 0 };
  // The arena is whole frames, so the frames already hold every figure: no second smaps read.
  for (const f of truth.frames) {
    arena.rss += f.presentBytes;
    if (f.huge) arena.anonHugePages += h;
    if (f.nh) arena.nhBytes += h;
  }

  return {
    exact: truth.exact,
    hugePageSize: h,
    free,
    inUse,
    countMinusTruth: free.claimed - free.backed,
    countMinusEligible: free.claimed - free.eligible,
    arena,
    spans,
  };
}
