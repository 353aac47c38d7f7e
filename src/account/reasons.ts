/**
 * Why a 2 MiB frame of anonymous memory is not on a PMD huge page: a fixed vocabulary modelled
 * on khugepaged's own scan results (mm/khugepaged.c: SCAN_VMA_CHECK, SCAN_ADDRESS_RANGE,
 * SCAN_EXCEED_NONE_PTE, SCAN_EXCEED_SWAP_PTE …) and on the fault path's THP checks.
 * Invariant: every frame with present, non-huge anonymous bytes gets exactly one reason: the
 * first of REASONS, in order, that applies. Reasons about the process and the VMA need only
 * smaps and /proc; reasons about the frame need PAGEMAP_SCAN, and without it the frame's reason
 * is `not-determined`, never a guess.
 */
import type { Vma } from '../native/smaps';
import { oneOfArg } from '../native/args';

export type Reason =
  | 'process-thp-disabled'
  | 'host-thp-never'
  | 'file-backed-vma'
  | 'vma-nohugepage'
  | 'madvise-mode-not-advised'
  | 'frame-outside-vma'
  | 'kernel-ineligible'
  | 'too-many-swapped'
  | 'too-few-present'
  | 'collapsible-waiting'
  | 'not-determined';

/** The vocabulary in the order it is applied; `meaning` is what the table and docs print. */
export const REASONS: readonly { code: Reason; meaning: string; fix: string }[] = [
  { code: 'process-thp-disabled', meaning: 'THP is disabled for the process (prctl PR_SET_THP_DISABLE, THP_enabled: 0)', fix: 'clear it: prctl(PR_SET_THP_DISABLE, 0), or start the program without it' },
  { code: 'host-thp-never', meaning: "THP is off host-wide (transparent_hugepage/enabled = never)", fix: 'echo madvise (or always) > /sys/kernel/mm/transparent_hugepage/enabled' },
  { code: 'file-backed-vma', meaning: "copy-on-write pages of a file or shared mapping: never anonymous THP", fix: 'none for anonymous THP (file THP is counted apart)' },
  { code: 'vma-nohugepage', meaning: 'the VMA was advised MADV_NOHUGEPAGE (VmFlags nh)', fix: 'the program asked for it: madvise(MADV_HUGEPAGE) undoes it' },
  { code: 'madvise-mode-not-advised', meaning: 'THP is in madvise mode and the VMA was not advised MADV_HUGEPAGE (no hg flag)', fix: 'madvise(MADV_HUGEPAGE) the range, or enabled = always' },
  { code: 'frame-outside-vma', meaning: 'the 2 MiB frame is not wholly inside the VMA (an edge, a VMA under 2 MiB, an unaligned start)', fix: 'align the mapping to 2 MiB and size it in 2 MiB multiples' },
  { code: 'kernel-ineligible', meaning: 'the kernel says the VMA cannot hold THP (THPeligible: 0: locked, special or DAX mapping …)', fix: 'depends on the mapping: see its VmFlags' },
  { code: 'too-many-swapped', meaning: 'more of the frame is swapped out than khugepaged will swap in to collapse it (max_ptes_swap)', fix: 'let it be swapped in (touch it), or raise khugepaged/max_ptes_swap' },
  { code: 'too-few-present', meaning: "fewer present pages than khugepaged needs (512 - max_ptes_none)", fix: 'touch more of the frame, or raise khugepaged/max_ptes_none' },
  { code: 'collapsible-waiting', meaning: "collapsible: khugepaged has not reached it yet (pages_to_scan per scan_sleep_millisecs)", fix: 'wait, speed khugepaged up (pages_to_scan), or madvise(MADV_COLLAPSE) the range now' },
  { code: 'not-determined', meaning: 'frame-level reasons need PAGEMAP_SCAN (Linux >= 6.7), or the process changed while it was read', fix: '-' },
];

export function meaningOf(r: Reason): string {
  oneOfArg(r, 'r', REASONS.map((x) => x.code));
  return REASONS.find((x) => x.code === r)!.meaning;
}

/** What decides a reason beyond the VMA itself. */
export interface ReasonContext {
  /** THP disabled for the process (prctl); undefined where the kernel does not say. */
  thpDisabled: boolean | undefined;
  /** transparent_hugepage/enabled: always, madvise, never; undefined without THP. */
  enabled: string | undefined;
  /** hpage_pmd_size in bytes. */
  hugePage: number;
  pageSize: number;
  /** khugepaged/max_ptes_none (default 511). */
  maxPtesNone: number;
  /** khugepaged/max_ptes_swap (default 64). */
  maxPtesSwap: number;
}

/**
 * The VMA-wide reason, if one applies to every frame of it: the process, the host, the kind of
 * mapping, its advice, a VMA that holds no whole aligned frame. The most fundamental comes
 * first: advice cannot make a file's COW pages anonymous THP. (The kernel's own THPeligible is
 * applied per frame, after the frame's edges: see frameReason.)
 */
export function vmaReason(v: Vma, ctx: ReasonContext): Reason | undefined {
  if (ctx.thpDisabled) return 'process-thp-disabled';
  if (ctx.enabled === 'never' || !ctx.hugePage) return 'host-thp-never';
  if (v.inode !== 0 || v.perms[3] === 's') return 'file-backed-vma';
  if (v.vmFlags.includes('nh')) return 'vma-nohugepage';
  if (ctx.enabled === 'madvise' && !v.vmFlags.includes('hg')) return 'madvise-mode-not-advised';
  if (Math.ceil(v.start / ctx.hugePage) * ctx.hugePage + ctx.hugePage > v.end) return 'frame-outside-vma';
  return undefined;
}

/**
 * The reason of one frame of an otherwise eligible VMA, from its present and swapped pages
 * (swapped: from /proc/PID/pagemap, read only where smaps says the VMA has swap).
 */
export function frameReason(v: Vma, base: number, presentBytes: number, ctx: ReasonContext, swappedPages = 0): Reason {
  if (base < v.start || base + ctx.hugePage > v.end) return 'frame-outside-vma';
  if (v.thpEligible === false) return 'kernel-ineligible';
  if (swappedPages > ctx.maxPtesSwap) return 'too-many-swapped';
  const needed = ctx.hugePage / ctx.pageSize - ctx.maxPtesNone;
  if (presentBytes / ctx.pageSize < needed) return 'too-few-present';
  return 'collapsible-waiting';
}
