/**
 * `filler`: TCMalloc's Temeraire, the hugepage-aware page heap (Hunter et al., OSDI 2021;
 * `tcmalloc/huge_page_filler.h` `HugePageFiller::TryGet`, `tcmalloc/huge_region.h`,
 * `tcmalloc/huge_page_aware_allocator.cc` `HugePageAwareAllocator::New` and `ReleaseAtLeastNPages`,
 * as released in 2020).
 *
 * - Small requests (at most half a huge page) are packed into huge pages: among the huge pages
 *   with a free run long enough, the one whose longest free run is shortest, then the one with
 *   the most memory in use (densest first, so sparse pages drain and empty out); inside it, the
 *   best-fitting free run (`RangeTracker::FindAndMark`).
 * - Larger requests take whole-huge-page-aligned space, best fit over the free spans (the
 *   smallest that holds it), crossing huge page boundaries; the tail of the last huge page
 *   stays free for small requests (TCMalloc "donates" it to the filler).
 * - Memory goes back to the OS only as whole empty huge pages, highest first; sysUnused never
 *   marks NOHUGEPAGE. Every mapped chunk is advised MADV_HUGEPAGE (Temeraire expects THP).
 *
 * Simplified: the filler's lists are scanned linearly over the arena's frames (a few hundred)
 * instead of TCMalloc's bitmap-indexed lists; allocation counts are bytes in use; no
 * subrelease of partly used huge pages (TCMalloc's later `SubRelease` is off here).
 */
import { FrameRuns, bestFitAligned } from './frames';
import type { HeapPolicy, PolicyHeap } from './types';

export function fillerPolicy(): HeapPolicy {
  let heap: PolicyHeap;
  let frames: FrameRuns;
  let H = 2 << 20;
  return {
    name: 'filler',
    release: 'dontneed',
    nohugepageEdges: false,
    attach(h) {
      heap = h;
      H = h.physHugePageSize || 2 << 20;
      frames = new FrameRuns(h, H);
    },
    grown(v, n) {
      heap.sysHugePage(v, n);
      frames.touch(v, v + n);
    },
    changed(base, end) {
      frames.touch(base, end);
    },
    place(npages) {
      const bytes = npages * heap.pageSize;
      if (bytes > H / 2) return bestFitAligned(heap, bytes, H) ?? 'grow';
      let pick = -1;
      let pickLongest = Infinity;
      let pickUsed = -1;
      for (let i = 0; i < frames.count; i++) {
        const lf = frames.longestFree(i);
        if (lf < npages) continue;
        const used = heap.frameInUse(i);
        if (lf < pickLongest || (lf === pickLongest && used > pickUsed)) {
          pick = i;
          pickLongest = lf;
          pickUsed = used;
        }
      }
      if (pick < 0) return 'grow';
      let best = -1;
      let bestLen = Infinity;
      for (const r of frames.runs(pick)) {
        if (r.npages >= npages && r.npages < bestLen) {
          best = r.base;
          bestLen = r.npages;
        }
      }
      return best;
    },
    scavenge(nbytes) {
      let released = 0;
      for (let i = frames.count - 1; i >= 0 && released < nbytes; i--) {
        if (heap.frameInUse(i) !== 0) continue;
        released += heap.releaseRange(frames.base(i), frames.base(i) + H);
      }
      return released;
    },
  };
}
