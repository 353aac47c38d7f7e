/**
 * Why a 2 MiB frame of anonymous memory is not on a PMD huge page, as a prediction of what the
 * kernel will do with it: whether a fault, khugepaged or only `hugespan collapse`
 * (MADV_COLLAPSE) will put it on a huge page, or nothing will. A fixed vocabulary modelled on
 * the kernel's own checks (mm/huge_memory.c __thp_vma_allowable_orders, mm/khugepaged.c
 * hpage_collapse_scan_pmd: SCAN_EXCEED_NONE_PTE, SCAN_EXCEED_SWAP_PTE, SCAN_EXCEED_SHARED_PTE,
 * SCAN_PTE_UFFD_WP …), each proved by test/account/reasons-kernel.test.ts making the case in a
 * child and letting khugepaged and MADV_COLLAPSE act on it.
 * Invariant: every frame with present, non-huge anonymous bytes gets exactly one reason: the
 * first of REASONS, in order, that applies. Reasons about the process and the VMA need only
 * smaps, /proc and sysfs; reasons about the frame need PAGEMAP_SCAN (which frames) and
 * /proc/PID/pagemap (frame-facts.ts: empty, swapped, shared, uffd-wp PTEs); without PAGEMAP_SCAN
 * the frame's reason is `not-determined`, never a guess.
 */
import type { Vma } from '../native/smaps';
import type { FrameFacts } from './frame-facts';
import { oneOfArg } from '../native/args';

export type Reason =
  | 'process-thp-disabled'
  | 'host-thp-never'
  | 'file-backed-vma'
  | 'vma-nohugepage'
  | 'madvise-mode-not-advised'
  | 'thp-disabled-except-advised'
  | 'frame-outside-vma'
  | 'kernel-ineligible'
  | 'uffd-wp-protected'
  | 'uffd-armed-holes'
  | 'too-many-swapped'
  | 'shared-with-other-process'
  | 'too-few-present'
  | 'collapsible-waiting'
  | 'not-determined';

/** Who will put a frame with this reason on a huge page: the prediction each test checks. */
export type Outcome = 'khugepaged' | 'collapse-only' | 'nothing' | 'unknown';

/**
 * The vocabulary in the order it is applied. `meaning`: the case and what the kernel will do
 * with it; `will`: the prediction in one word (khugepaged: it will collapse the frame when its
 * scan reaches it; collapse-only: khugepaged won't, `hugespan collapse` (MADV_COLLAPSE) will;
 * nothing: neither will; `errno`: what MADV_COLLAPSE fails with where it fails); `fix`.
 */
export const REASONS: readonly { code: Reason; meaning: string; will: Outcome; errno?: string; fix: string }[] = [
  { code: 'process-thp-disabled', will: 'nothing', errno: 'EINVAL', meaning: 'THP is off for the whole process (prctl PR_SET_THP_DISABLE; status THP_enabled: 0): no fault, khugepaged or hugespan collapse will make a huge page here (MADV_COLLAPSE: EINVAL)', fix: 'clear it: prctl(PR_SET_THP_DISABLE, 0), or start the program without it' },
  { code: 'host-thp-never', will: 'collapse-only', meaning: 'PMD THP is off host-wide: hugepages-2048kB/enabled = never, or inherit with transparent_hugepage/enabled = never. Faults and khugepaged never make 2 MiB pages; hugespan collapse still will (MADV_COLLAPSE ignores both settings)', fix: 'echo madvise (or always) > /sys/kernel/mm/transparent_hugepage/enabled and inherit > hugepages-2048kB/enabled, or hugespan collapse' },
  { code: 'file-backed-vma', will: 'nothing', meaning: 'copy-on-write pages of a file or shared mapping (a private /dev/zero map is anonymous, not this): never anonymous THP, by faults, khugepaged or collapse', fix: 'none for anonymous THP (file THP is counted apart)' },
  { code: 'vma-nohugepage', will: 'nothing', errno: 'EINVAL', meaning: 'the VMA was advised MADV_NOHUGEPAGE (VmFlags nh): no fault, khugepaged or hugespan collapse will (MADV_COLLAPSE: EINVAL)', fix: 'the program asked for it: madvise(MADV_HUGEPAGE) undoes it' },
  { code: 'madvise-mode-not-advised', will: 'collapse-only', meaning: 'the 2 MiB size is in madvise mode (hugepages-2048kB/enabled = madvise, or inherit with enabled = madvise) and the VMA was not advised MADV_HUGEPAGE (no hg flag): faults and khugepaged won\'t; hugespan collapse will (MADV_COLLAPSE needs no advice)', fix: 'madvise(MADV_HUGEPAGE) the range, enabled = always, or hugespan collapse' },
  { code: 'thp-disabled-except-advised', will: 'collapse-only', meaning: 'THP is off for the process except where advised (Linux 6.18 prctl PR_SET_THP_DISABLE with PR_THP_DISABLE_EXCEPT_ADVISED; status still says THP_enabled: 1, so it is inferred from THPeligible: 0 in an unadvised, ordinary VMA with the 2 MiB size in always mode): faults and khugepaged won\'t; hugespan collapse will', fix: 'madvise(MADV_HUGEPAGE) the range, prctl(PR_SET_THP_DISABLE, 0), or hugespan collapse' },
  { code: 'frame-outside-vma', will: 'nothing', errno: 'EINVAL', meaning: 'the 2 MiB frame is not wholly inside the VMA (an edge, a VMA under 2 MiB, an unaligned start): no fault, khugepaged or collapse maps a PMD over part of a VMA (MADV_COLLAPSE: EINVAL)', fix: 'align the mapping to 2 MiB and size it in 2 MiB multiples' },
  { code: 'kernel-ineligible', will: 'nothing', errno: 'EINVAL', meaning: 'the kernel allows no THP size in the VMA although process, host and advice do (smaps THPeligible: 0, which in 6.18 means no size at all): a special mapping (VmFlags io, pf, mm, de) or DAX; nothing will collapse it (MADV_COLLAPSE: EINVAL). mlock is not a cause: a locked VMA collapses', fix: 'none: it is the kind of mapping (see its VmFlags)' },
  { code: 'uffd-wp-protected', will: 'nothing', errno: 'EINVAL', meaning: 'pages of the frame are write-protected by userfaultfd (pagemap bit 57): neither khugepaged nor hugespan collapse will while they stay protected (MADV_COLLAPSE: EINVAL)', fix: 'the userfaultfd user unprotects them (UFFDIO_WRITEPROTECT mode 0) or unregisters the range' },
  { code: 'uffd-armed-holes', will: 'nothing', errno: 'EBUSY', meaning: 'the VMA is registered with userfaultfd and the frame has empty (or zero-page) PTEs, which the kernel will not fill behind the handler: neither khugepaged nor hugespan collapse will (MADV_COLLAPSE: EBUSY)', fix: 'fill the holes (touch them, UFFDIO_COPY), or unregister the range' },
  { code: 'too-many-swapped', will: 'collapse-only', meaning: 'more of the frame is swapped out than khugepaged swaps in (max_ptes_swap), or some is and fewer than 256 pages are present (khugepaged then wants half the frame recently referenced): khugepaged won\'t; hugespan collapse will, swapping them in', fix: 'touch it (swaps it in), raise khugepaged/max_ptes_swap, or hugespan collapse' },
  { code: 'shared-with-other-process', will: 'collapse-only', meaning: 'more of the frame\'s pages are shared with another process (copy-on-write after fork) than khugepaged/max_ptes_shared allows: khugepaged won\'t; hugespan collapse will, copying them: this process\'s own memory (PSS) and the host\'s grow by them while the other keeps its copies', fix: 'let the sharer exit or write its copy, raise khugepaged/max_ptes_shared, or hugespan collapse (+memory)' },
  { code: 'too-few-present', will: 'collapse-only', meaning: 'more empty (or zero-page) PTEs than khugepaged fills (max_ptes_none): khugepaged won\'t; hugespan collapse will, allocating the empty pages (RSS grows)', fix: 'touch more of the frame, raise khugepaged/max_ptes_none, or hugespan collapse (+RSS)' },
  { code: 'collapsible-waiting', will: 'khugepaged', meaning: 'every khugepaged threshold is met: khugepaged will collapse it when its scan reaches it, provided a page of it was referenced lately (a frame nobody has touched since, e.g. one MADV_FREEd, it may skip: that turns on when the kernel clears the pages\' referenced state) and none is pinned or held by the kernel (a pipe, I/O), locked or KSM-merged at that moment; hugespan collapse will now, unless a page is held (EAGAIN)', fix: 'wait (why prints khugepaged\'s pace), speed khugepaged up (pages_to_scan, scan_sleep_millisecs), or hugespan collapse' },
  { code: 'not-determined', will: 'unknown', meaning: 'frame-level reasons need PAGEMAP_SCAN (Linux >= 6.7) and /proc/PID/pagemap, or the process changed while it was read', fix: '-' },
];

export function meaningOf(r: Reason): string {
  oneOfArg(r, 'r', REASONS.map((x) => x.code));
  return REASONS.find((x) => x.code === r)!.meaning;
}

/** The prediction in a few words, for tables: who will put the frame on a huge page. */
export function predictionOf(r: Reason): string {
  oneOfArg(r, 'r', REASONS.map((y) => y.code));
  const x = REASONS.find((y) => y.code === r)!;
  switch (x.will) {
    case 'khugepaged':
      return 'khugepaged will collapse it (if touched lately), hugespan collapse now';
    case 'collapse-only':
      return "khugepaged won't; hugespan collapse will";
    case 'nothing':
      return `nothing will${x.errno ? ` (MADV_COLLAPSE: ${x.errno})` : ''}`;
    default:
      return 'not known: see hugespan why --help';
  }
}

/** What decides a reason beyond the VMA itself. */
export interface ReasonContext {
  /** THP disabled completely for the process (prctl; status THP_enabled: 0); undefined where the kernel does not say. */
  thpDisabled: boolean | undefined;
  /** transparent_hugepage/enabled: always, madvise, never; undefined without THP. */
  enabled: string | undefined;
  /** hugepages-<PMD size>/enabled (Linux >= 6.8): always, inherit, madvise, never; undefined before. */
  pmdEnabled?: string;
  /** hpage_pmd_size in bytes. */
  hugePage: number;
  pageSize: number;
  /** khugepaged/max_ptes_none (default 511). */
  maxPtesNone: number;
  /** khugepaged/max_ptes_swap (default 64). */
  maxPtesSwap: number;
  /** khugepaged/max_ptes_shared (default 256). */
  maxPtesShared?: number;
}

/** The host's settings and the process's switch as a ReasonContext. */
export function reasonContext(
  host: { hugePageSize: number; pageSize: number; thp: { enabled?: string; khugepaged: Record<string, number>; sizes: Record<string, string> } },
  thpDisabled: boolean | undefined,
): ReasonContext {
  const k = host.thp.khugepaged;
  return {
    thpDisabled,
    enabled: host.thp.enabled,
    pmdEnabled: host.thp.sizes[`${host.hugePageSize / 1024}kB`],
    hugePage: host.hugePageSize,
    pageSize: host.pageSize,
    maxPtesNone: k.max_ptes_none ?? 511,
    maxPtesSwap: k.max_ptes_swap ?? 64,
    maxPtesShared: k.max_ptes_shared ?? 256,
  };
}

/** The PMD size's own mode: its per-size setting, or the top-level one where it inherits (or has none). */
export function pmdMode(ctx: ReasonContext): string | undefined {
  return ctx.pmdEnabled && ctx.pmdEnabled !== 'inherit' ? ctx.pmdEnabled : ctx.enabled;
}

/** Private anonymous memory, a private map of /dev/zero included (the kernel makes it anonymous; smaps shows the device). */
export function isAnonVma(v: Pick<Vma, 'inode' | 'perms' | 'path'>): boolean {
  return v.perms[3] !== 's' && (v.inode === 0 || v.path === '/dev/zero');
}

/** VmFlags of a mapping the kernel never gives THP (VM_NO_KHUGEPAGED: VM_SPECIAL, hugetlb). */
const SPECIAL = ['io', 'pf', 'mm', 'de', 'ht'];

/**
 * The VMA-wide reason, if one applies to every frame of it: the process, the host, the kind of
 * mapping, its advice, a VMA that holds no whole aligned frame. The most fundamental comes
 * first: advice cannot make a file's COW pages anonymous THP. (The kernel's own THPeligible is
 * applied per frame, after the frame's edges: see frameReason.)
 */
export function vmaReason(v: Vma, ctx: ReasonContext): Reason | undefined {
  if (ctx.thpDisabled) return 'process-thp-disabled';
  if (!ctx.hugePage) return 'host-thp-never';
  const mode = pmdMode(ctx);
  if (mode === 'never') return 'host-thp-never';
  if (!isAnonVma(v)) return 'file-backed-vma';
  if (v.vmFlags.includes('nh')) return 'vma-nohugepage';
  const advised = v.vmFlags.includes('hg');
  if (mode === 'madvise' && !advised) return 'madvise-mode-not-advised';
  if (Math.ceil(v.start / ctx.hugePage) * ctx.hugePage + ctx.hugePage > v.end) return 'frame-outside-vma';
  if (mode === 'always' && !advised && v.thpEligible === false && !SPECIAL.some((f) => v.vmFlags.includes(f))) return 'thp-disabled-except-advised';
  return undefined;
}

/** The uffd VmFlags: registered in missing, write-protect or minor mode (userfaultfd_armed). */
const UFFD = ['um', 'uw', 'ui'];

/** A VMA registered with userfaultfd: its frames' PTEs decide whether even MADV_COLLAPSE can act. */
export function uffdArmed(v: Vma): boolean {
  return UFFD.some((f) => v.vmFlags.includes(f));
}

/**
 * Where a VMA-wide reason says only `hugespan collapse` will act, the frame-level cases that
 * stop MADV_COLLAPSE too (userfaultfd holes and write protection) still apply: the frame's
 * reason, else the VMA's.
 */
export function frameReasonUnder(whole: Reason, v: Vma, ctx: ReasonContext, facts: Partial<FrameFacts> | undefined): Reason {
  if (!facts || !uffdArmed(v) || REASONS.find((r) => r.code === whole)?.will !== 'collapse-only') return whole;
  const empty = (facts.none ?? 0) + (facts.zero ?? 0);
  if ((facts.uffdWp ?? 0) > 0 && empty === 0) return 'uffd-wp-protected';
  if (empty > 0) return 'uffd-armed-holes';
  if ((facts.uffdWp ?? 0) > 0) return 'uffd-wp-protected';
  return whole;
}

/**
 * The reason of one frame of an otherwise eligible VMA. `presentBytes`: from PAGEMAP_SCAN;
 * `facts`: the frame's PTEs from /proc/PID/pagemap (frame-facts.ts), where they could be read;
 * without them only the present bytes decide (as khugepaged's max_ptes_none would).
 */
export function frameReason(v: Vma, base: number, presentBytes: number, ctx: ReasonContext, facts?: Partial<FrameFacts>): Reason {
  if (base < v.start || base + ctx.hugePage > v.end) return 'frame-outside-vma';
  if (v.thpEligible === false) return 'kernel-ineligible';
  const nr = ctx.hugePage / ctx.pageSize;
  const zero = facts?.zero ?? 0;
  // khugepaged and MADV_COLLAPSE count an empty PTE and one of the zero page alike (none_or_zero).
  const empty = facts?.none !== undefined ? facts.none + zero : nr - presentBytes / ctx.pageSize;
  if ((facts?.uffdWp ?? 0) > 0 && empty === 0) return 'uffd-wp-protected';
  if (uffdArmed(v) && empty > 0) return 'uffd-armed-holes';
  if ((facts?.uffdWp ?? 0) > 0) return 'uffd-wp-protected';
  const swapped = facts?.swapped ?? 0;
  const present = facts?.present !== undefined ? facts.present - zero : presentBytes / ctx.pageSize;
  if (swapped > ctx.maxPtesSwap || (swapped > 0 && present < nr / 2)) return 'too-many-swapped';
  if ((facts?.shared ?? 0) - zero > (ctx.maxPtesShared ?? 256)) return 'shared-with-other-process';
  if (empty > ctx.maxPtesNone) return 'too-few-present';
  return 'collapsible-waiting';
}
