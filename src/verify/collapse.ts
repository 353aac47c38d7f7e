/**
 * What khugepaged would do, now: MADV_COLLAPSE on every huge page frame of the mapped arena
 * that it would pick — eligible (THPeligible, not `nh`) and with enough pages present
 * (at least 512 - max_ptes_none of 512) — in use or free. Invariant: a frame is asked once;
 * every frame ends in exactly one bucket of the result.
 */
import type { RuntimeHeap } from '../heap/runtime-heap';
import { runtimeHeapArg } from '../heap/runtime-heap';
import { thpSettings } from '../native/host';
import { frameTruth } from './frames';

export interface CollapseResult {
  frames: number;
  /** Already on a huge page before the pass. */
  already: number;
  collapsed: number;
  refused: {
    /** The VMA is marked MADV_NOHUGEPAGE (MADV_COLLAPSE would fail with EINVAL). */
    nh: number;
    /** Not eligible for another reason (no `hg` in madvise mode, frame split across VMAs). */
    notEligible: number;
    /** Fewer pages present than khugepaged's max_ptes_none allows it to fill. */
    notResident: number;
    /** The kernel said no: errno code -> frames (EAGAIN twice, ENOMEM, EBUSY ...). */
    kernel: Record<string, number>;
  };
  ms: number;
}

export function collapse(heap: RuntimeHeap): CollapseResult {
  runtimeHeapArg(heap);
  const t0 = performance.now();
  const h = heap.physHugePageSize;
  const result: CollapseResult = { frames: 0, already: 0, collapsed: 0, refused: { nh: 0, notEligible: 0, notResident: 0, kernel: {} }, ms: 0 };
  if (h === 0 || heap.heapSys === 0) return result;
  const maxPtesNone = thpSettings().khugepaged.max_ptes_none ?? h / heap.physPageSize - 1;
  const minPresent = Math.max(1, h / heap.physPageSize - maxPtesNone) * heap.physPageSize;

  for (const f of frameTruth(heap.arenaBase, heap.arenaBase + heap.heapSys, h).frames) {
    result.frames++;
    if (f.huge) result.already++;
    else if (f.nh) result.refused.nh++;
    else if (!f.eligible) result.refused.notEligible++;
    else if (f.presentBytes < minPresent) result.refused.notResident++;
    else {
      try {
        heap.sys.mem.madvise(f.base, h, 'collapse');
        result.collapsed++;
      } catch (e) {
        const code = String((e as { code?: string }).code ?? 'UNKNOWN');
        result.refused.kernel[code] = (result.refused.kernel[code] ?? 0) + 1;
      }
    }
  }
  result.ms = performance.now() - t0;
  return result;
}
