/**
 * What `hugespan collapse` will cost, before it acts: per 2 MiB frame and in total, the pages
 * present, the huge page MADV_COLLAPSE allocates, the growth of the process's RSS and of the
 * machine's memory, the pages it unshares from another process, the swapped pages it reads back,
 * and the frames it skips and why. Invariant: every frame of the report that holds small
 * anonymous pages (inside the range, if given) is in the plan exactly once, as `collapse` or with the reason it is skipped;
 * the frames to collapse are the cheapest first (least memory growth), taken while their sum
 * stays within maxGrowth, so the plan never grows memory past the bound it was given.
 *
 * The arithmetic (mm/khugepaged.c collapse_huge_page, __collapse_huge_page_copy): MADV_COLLAPSE
 * allocates one huge page, copies the present pages into it (reading swapped ones back first;
 * it ignores max_ptes_none/swap/shared), fills the holes with zeros and maps it, then drops its
 * references to the small pages. So the process's RSS grows by the huge page less the bytes it
 * already had resident (the shared zero page is not resident); the machine's memory grows by the
 * huge page less the small pages that were this process's alone (pagemap bit 56), since a page
 * shared with a forked process stays that process's. Those shared pages are what it unshares.
 */
import { readFrameFacts } from './frame-facts';
import type { Reason } from './reasons';
import type { ProcessReport } from './schema';

/**
 * Reasons whose frames the command collapses: in a VMA that wants huge pages, those khugepaged
 * will collapse later and those only MADV_COLLAPSE will, since it ignores khugepaged's
 * max_ptes_none/swap/shared (what that costs is the plan's to say). Not the VMA-wide reasons
 * MADV_COLLAPSE would also override (not advised, THP off host-wide): that choice was made by
 * the program or the host. Strings, not Reason: the vocabulary grows (shared-with-other-process).
 */
export const COLLAPSE_ON_REQUEST: ReadonlySet<string> = new Set<string>(['collapsible-waiting', 'too-few-present', 'too-many-swapped', 'shared-with-other-process']);

/** Why a frame of the plan is not collapsed. */
export type SkipReason = Reason | 'over-max-growth' | 'uffd-write-protected' | 'gone';

export interface PlanFrame {
  /** The frame's first address, "0x…". */
  start: string;
  reason: Reason;
  /** 4 KiB pages resident in the process (PAGEMAP_SCAN; the zero page is not). */
  present: number;
  /** Pages swapped out: MADV_COLLAPSE reads them back into the huge page. */
  swapped: number;
  /** Resident pages shared with another process (a fork's copy-on-write pages): it unshares them. */
  shared: number;
  /** Bytes of the huge page MADV_COLLAPSE allocates (0 for a skipped frame). */
  allocate: number;
  /** How much the process's RSS grows: huge page - present bytes. */
  rssGrowth: number;
  /** How much the machine's memory grows: huge page - the bytes that were this process's alone. */
  memoryGrowth: number;
  action: 'collapse' | 'skip';
  /** Why it is skipped; absent for `collapse`. */
  skip?: SkipReason;
}

export interface PlanTotals {
  frames: number;
  collapse: number;
  present: number;
  swapped: number;
  shared: number;
  allocate: number;
  rssGrowth: number;
  memoryGrowth: number;
  /** Skipped frames by why. */
  skipped: Partial<Record<SkipReason, number>>;
}

export interface CollapsePlan {
  /** The bound on memoryGrowth the frames to collapse were chosen within, bytes. */
  maxGrowth: number;
  hugePage: number;
  pageSize: number;
  /** Every frame holding small anonymous pages, in address order. */
  frames: PlanFrame[];
  /** Over the frames to collapse (skipped ones counted in `skipped` only). */
  totals: PlanTotals;
}

/**
 * The plan for `pid` from its report (exact: PAGEMAP_SCAN frames) and the frames' pagemap facts.
 * `range`: only frames wholly inside [lo, hi) are planned at all.
 */
export function planCollapse(pid: number, r: ProcessReport, options: { maxGrowth: number; range?: [number, number] }): CollapsePlan {
  const H = r.thp.hugePageSize;
  const P = r.host.pageSize;
  const frames: PlanFrame[] = [];
  const candidates: PlanFrame[] = [];
  const inRange = (start: number) => !options.range || (start >= options.range[0] && start + H <= options.range[1]);
  for (const v of r.vmas) {
    const planned = v.frames.filter((f) => inRange(Number(f.start)));
    const wanted = planned.filter((f) => COLLAPSE_ON_REQUEST.has(f.reason));
    // One pagemap read over the VMA's candidate frames.
    const facts = wanted.length ? readFrameFacts(pid, Number(wanted[0].start), Number(wanted[wanted.length - 1].start) + H, { hugePage: H, pageSize: P }) : [];
    const factAt = new Map((facts ?? []).map((f) => [f.start, f]));
    for (const f of planned) {
      const start = Number(f.start);
      const present = f.present / P;
      const frame: PlanFrame = { start: f.start, reason: f.reason, present, swapped: 0, shared: 0, allocate: 0, rssGrowth: 0, memoryGrowth: 0, action: 'skip' };
      frames.push(frame);
      if (!COLLAPSE_ON_REQUEST.has(f.reason)) {
        frame.skip = f.reason;
        continue;
      }
      const ff = factAt.get(start);
      if (!ff) {
        frame.skip = 'gone';
        continue;
      }
      // pagemap counts zero-page PTEs as present and shared; PAGEMAP_SCAN does not count them.
      const zeroPtes = Math.max(0, ff.present - present);
      frame.swapped = ff.swapped;
      frame.shared = Math.max(0, ff.shared - zeroPtes);
      frame.rssGrowth = H - f.present;
      frame.memoryGrowth = H - Math.min(ff.exclusive, present) * P;
      if (ff.uffdWp > 0) frame.skip = 'uffd-write-protected';
      else candidates.push(frame);
    }
  }
  // The cheapest first: most frames on huge pages for the bound.
  let grown = 0;
  for (const f of [...candidates].sort((a, b) => a.memoryGrowth - b.memoryGrowth || Number(a.start) - Number(b.start))) {
    if (grown + f.memoryGrowth > options.maxGrowth) {
      f.skip = 'over-max-growth';
      continue;
    }
    grown += f.memoryGrowth;
    f.action = 'collapse';
    f.allocate = H;
  }
  const totals: PlanTotals = { frames: frames.length, collapse: 0, present: 0, swapped: 0, shared: 0, allocate: 0, rssGrowth: 0, memoryGrowth: 0, skipped: {} };
  for (const f of frames) {
    if (f.action === 'skip') {
      totals.skipped[f.skip!] = (totals.skipped[f.skip!] ?? 0) + 1;
      continue;
    }
    totals.collapse++;
    totals.present += f.present;
    totals.swapped += f.swapped;
    totals.shared += f.shared;
    totals.allocate += f.allocate;
    totals.rssGrowth += f.rssGrowth;
    totals.memoryGrowth += f.memoryGrowth;
  }
  return { maxGrowth: options.maxGrowth, hugePage: H, pageSize: P, frames, totals };
}
