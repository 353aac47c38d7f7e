/**
 * Per-huge-page views of the heap for the policies that think in huge pages (filler, hpa): the
 * free runs inside one frame (the free spans' parts in it), their longest cached per frame
 * and recomputed only for frames a change touched. Invariant: a clean cache entry equals a fresh
 * walk of the frame's spans.
 */
import type { PolicyHeap } from './types';

export interface Run {
  base: number;
  npages: number;
}

export class FrameRuns {
  private longest = new Int32Array(0);
  private dirty = new Uint8Array(0);
  constructor(private readonly heap: PolicyHeap, readonly frameBytes: number) {}

  /** Frames mapped so far. */
  get count(): number {
    return Math.floor(this.heap.heapSys / this.frameBytes);
  }

  base(i: number): number {
    return this.heap.arenaBase + i * this.frameBytes;
  }

  /** Mark the frames overlapping [base, end) for recomputation. */
  touch(base: number, end: number): void {
    this.fit();
    const first = Math.floor((base - this.heap.arenaBase) / this.frameBytes);
    const last = Math.floor((end - 1 - this.heap.arenaBase) / this.frameBytes);
    for (let i = Math.max(0, first); i <= last && i < this.dirty.length; i++) this.dirty[i] = 1;
  }

  /** The longest free run inside frame i, in runtime pages. */
  longestFree(i: number): number {
    this.fit();
    if (this.dirty[i]) {
      let best = 0;
      for (const r of this.runs(i)) best = Math.max(best, r.npages);
      this.longest[i] = best;
      this.dirty[i] = 0;
    }
    return this.longest[i];
  }

  /**
   * The free runs inside frame i, in address order, clipped to the frame: one per free span (a
   * scavenged and an unscavenged neighbour are two runs, since an allocation takes one span).
   */
  runs(i: number): Run[] {
    const lo = this.base(i);
    const hi = lo + this.frameBytes;
    const out: Run[] = [];
    for (let addr = lo; addr < hi;) {
      const s = this.heap.spanOf(addr)!;
      const end = Math.min(s.end, hi);
      if (s.state === 'free') out.push({ base: addr, npages: (end - addr) / this.heap.pageSize });
      addr = end;
    }
    return out;
  }

  private fit(): void {
    const n = this.count;
    if (n <= this.longest.length) return;
    const longest = new Int32Array(n);
    longest.set(this.longest);
    const dirty = new Uint8Array(n).fill(1);
    dirty.set(this.dirty);
    this.longest = longest;
    this.dirty = dirty;
  }
}

/** The lowest aligned range of `bytes` inside a free span, best fit by span size (smallest span that holds it). */
export function bestFitAligned(heap: PolicyHeap, bytes: number, align: number): number | undefined {
  let best: number | undefined;
  let bestSize = Infinity;
  for (const s of heap.freeSpans()) {
    const a = Math.ceil(s.base / align) * align;
    if (a + bytes <= s.end && s.bytes < bestSize) {
      best = a;
      bestSize = s.bytes;
    }
  }
  return best;
}
