/**
 * The lab's measurement over time: samples of the arena as the kernel holds it (in-use share on
 * huge pages, RSS, LazyFree) beside the heap's own released bytes, taken between ops through the
 * run, and the steady state read off them (the median over the run's second half), so a figure
 * describes the policy, not the instant after one sweep. Invariant: sampling reads the kernel's
 * tables (pagemap, smaps) and never touches or advises the arena.
 */
import type { RuntimeHeap } from '../heap/runtime-heap';
import { frameTruth } from '../verify/frames';
import { readSmaps, overlapping } from '../native/smaps';

export interface Sample {
  /** Program time, ms. */
  clockMs: number;
  /** Workload ops done. */
  op: number;
  heapInuse: number;
  /** Share of in-use bytes on huge pages (kernel). */
  inUseHugeShare: number;
  /** Arena bytes present (kernel). */
  rss: number;
  /** Arena LazyFree (smaps): MADV_FREE'd pages still resident, reclaimable under pressure. */
  lazyFree: number;
  /** The heap's released (scavenged) bytes. */
  released: number;
  /** The heap's count of free huge pages (what its scavenger paces by) minus those the kernel backs now. */
  countMinusTruth: number;
  /** The same count minus the frames the kernel may back (not nohugepage): the seed's question, at every sample. */
  countMinusEligible: number;
}

export interface SteadyState {
  /** Samples the medians are over (the second half of the run). */
  samples: number;
  inUseHugeShare: number;
  rss: number;
  lazyFree: number;
  rssMinusLazyFree: number;
  heapInuse: number;
  /** (RSS − LazyFree) / heap in use, per sample, then the median. */
  rssOverInUse: number;
}

/** Arena LazyFree from smaps: the VMAs overlapping [start, end) (a neighbour merged with the arena would add its own). */
export function arenaLazyFree(start: number, end: number): number {
  let n = 0;
  for (const v of overlapping(readSmaps(), start, end)) n += (v as unknown as Record<string, number>).lazyFree ?? 0;
  return n;
}

/**
 * One sample of the heap and the kernel's view of its arena. The in-use share is over the heap's
 * in-use spans (garbage not yet swept included: it is still in use to the heap and the kernel),
 * as the verification counts it.
 */
export function sample(heap: RuntimeHeap, clockMs: number, op: number): Sample {
  const h = heap.physHugePageSize;
  const start = heap.arenaBase;
  const end = start + heap.heapSys;
  let rss = 0;
  let hugeInUse = 0;
  let inuse = 0;
  const frames = h > 0 && end > start ? frameTruth(start, end, h).frames : [];
  for (const f of frames) rss += f.presentBytes;
  let backedFree = 0;
  let eligibleFree = 0;
  for (const s of heap.spans()) {
    if (s.state === 'free' && !s.scavenged && frames.length && s.hugePages() > 0) {
      for (let f = Math.ceil(s.base / h) * h; f + h <= s.end; f += h) {
        const fr = frames[(f - start) / h];
        if (fr?.huge) backedFree++;
        if (fr?.eligible) eligibleFree++;
      }
    }
    if (s.state !== 'inUse') continue;
    inuse += s.bytes;
    for (let f = Math.floor((s.base - start) / h) * h + start; frames.length && f < s.end; f += h) {
      if (frames[(f - start) / h]?.huge) hugeInUse += Math.min(f + h, s.end) - Math.max(f, s.base);
    }
  }
  return { clockMs, op, heapInuse: inuse, inUseHugeShare: inuse ? hugeInUse / inuse : 0, rss, lazyFree: end > start ? arenaLazyFree(start, end) : 0, released: heap.heapReleased, countMinusTruth: heap.freeHugePages - backedFree, countMinusEligible: heap.freeHugePages - eligibleFree };
}

function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Medians over the second half of the samples. */
export function steadyState(series: readonly Sample[]): SteadyState {
  const tail = series.slice(Math.floor(series.length / 2));
  const of = (f: (s: Sample) => number) => median(tail.map(f));
  return {
    samples: tail.length,
    inUseHugeShare: of((s) => s.inUseHugeShare),
    rss: of((s) => s.rss),
    lazyFree: of((s) => s.lazyFree),
    rssMinusLazyFree: of((s) => s.rss - s.lazyFree),
    heapInuse: of((s) => s.heapInuse),
    rssOverInUse: of((s) => (s.heapInuse ? (s.rss - s.lazyFree) / s.heapInuse : 0)),
  };
}
