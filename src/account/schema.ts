/**
 * The JSON that `report` prints and the accounting API returns, in one place.
 * Invariant: fields may be added (the schema number goes up when they are); none changes
 * meaning or vanishes. Every size is in bytes, every ratio in 0..1.
 */
import type { Reason } from './reasons';
import type { BloatJson } from './bloat';
import type { CgroupSharingJson } from './cgroup-sharing';
import type { Owner, Runtime } from './owners';
import type { ThpBySize } from './thp-sizes';

/**
 * 2: per-VMA and total `account` buckets with reasons, `frames`, `otherHuge`; added within 2
 * (CHANGELOG: fields may be added within a number): per-VMA `owner`, the process's `owners`.
 */
export const SCHEMA = 2 as const;


/** The host's THP settings, as sysfs has them (/sys/kernel/mm/transparent_hugepage). */
export interface ThpJson {
  /** `enabled`: "always", "madvise" or "never"; null when the kernel has no THP. */
  enabled: string | null;
  /** `defrag`: "always", "defer", "defer+madvise", "madvise" or "never"; null without THP. */
  defrag: string | null;
  /** hpage_pmd_size in bytes (2 MiB on x86-64); 0 when the kernel has no THP. */
  hugePageSize: number;
  /** khugepaged's max_ptes_none: how many empty 4 KiB pages it fills to collapse a huge page. */
  maxPtesNone: number | null;
  /** Every khugepaged tunable and counter, by its sysfs file name. */
  khugepaged: Record<string, number>;
  /** Multi-size THP (Linux >= 6.8): per size ("64kB") its `enabled` choice. */
  sizes: Record<string, string>;
}

export interface HostJson {
  /** uname release, e.g. "6.18.44". */
  kernel: string;
  arch: string;
  /** The OS page in bytes. */
  pageSize: number;
  /** Whether the kernel answers PAGEMAP_SCAN (Linux >= 6.7): exact per-page huge truth. */
  pagemapScan: boolean;
}

/** One VMA holding anonymous memory (smaps `Anonymous` > 0). Sizes in bytes. */
export interface VmaJson {
  /** First address, "0x…" hex (addresses can exceed 2^53 on some architectures). */
  start: string;
  /** One past the last address, "0x…" hex. */
  end: string;
  size: number;
  /** "rw-p" … as smaps prints them. */
  perms: string;
  /** Mapped file, "[heap]", "[stack]", "[anon:name]", or "" for plain anonymous memory. */
  path: string;
  rss: number;
  anonymous: number;
  /** Anonymous bytes on PMD huge pages, measured by the report's `method`. */
  anonHugePages: number;
  /** anonHugePages / anonymous, 0..1. */
  coverage: number;
  /** smaps THPeligible; null where the kernel does not print it. */
  thpEligible: boolean | null;
  /** smaps VmFlags, two letters each: "hg" advised hugepage, "nh" advised nohugepage … */
  vmFlags: string[];
  /** Anonymous bytes not on huge pages although the VMA is THP-eligible. */
  eligibleNotHuge: number;
  /** Every anonymous byte of the VMA in exactly one bucket (schema 2). */
  account: AccountJson;
  /** Frames with present anonymous bytes that are not on a PMD huge page, each with its reason (schema 2). */
  frames: FrameJson[];
  /** THPs mapped by PTEs by folio size, anonymous and file, keyed as the kernel's tools/mm/thpmaps does (see TotalsJson.thpBySize); null: not visible without root. */
  thpBySize?: ThpBySize | null;
  /** Who made it, with the evidence read (added in schema 2; absent where the process's maps could not be read). */
  owner?: OwnerJson;
}

/** The runtime or allocator that made a VMA (src/account/owners), and the facts that say so. */
export interface OwnerJson {
  owner: Owner;
  /** Short sentences: what was read that names the owner, or what was missing for `unknown`. */
  evidence: string[];
}

/** A process's anonymous memory by owner, and what each owner's program can change (added in schema 2). */
export interface OwnersJson {
  /** The runtimes it maps, each with its version where read and the evidence. */
  runtimes: Runtime[];
  /** Per owner present, biggest first: its VMAs' bytes; sums to totals.anonymous. */
  byOwner: OwnerTotalsJson[];
  /** The fixes that hold for the owners present at the versions read. */
  fixes: OwnerFixJson[];
}

export interface OwnerTotalsJson {
  owner: Owner;
  vmas: number;
  anonymous: number;
  /** Of it on PMD huge pages, by the report's method. */
  anonHugePages: number;
  coverage: number;
  /** Small-page bytes by reason, as totals.account.reasons. */
  reasons: Partial<Record<Reason, number>>;
}

export interface OwnerFixJson {
  /** The owners present it is for. */
  owners: Owner[];
  /** The versions the fix holds for, in words. */
  versions: string;
  /** The version read ("2.36"); null where not read. */
  version: string | null;
  action: string;
  /** The environment that applies it (hugespan run --fix sets it); null: no knob exists. */
  env: Record<string, string> | null;
  cost: string;
  source: string;
}

/**
 * Where a process's (or a VMA's) anonymous bytes are, each in exactly one bucket:
 * pmdMapped + (pteMappedThp ?? 0) + small = anonymous, and the reasons sum to small.
 * Sources: anonymous and pmdMapped are smaps' Anonymous and AnonHugePages; pteMappedThp comes
 * from /proc/PID/pagemap PFNs and /proc/kpageflags (root only); the reasons from the VMA's
 * flags, the host's settings and, per 2 MiB frame, PAGEMAP_SCAN. All in bytes.
 */
export interface AccountJson {
  /** smaps Anonymous. */
  anonymous: number;
  /** On PMD-mapped huge pages (smaps AnonHugePages). */
  pmdMapped: number;
  /** In THPs mapped by PTEs (split, partly unmapped, multi-size THP); null: not visible without root. */
  pteMappedThp: number | null;
  /** On small pages: the rest. Where pteMappedThp is null it may hold PTE-mapped THP too. */
  small: number;
  /** `small` by reason (see REASONS), biggest first in the table; sums to `small`. */
  reasons: Partial<Record<Reason, number>>;
}

/** One 2 MiB frame that is not on a huge page, with present anonymous bytes. */
export interface FrameJson {
  /** The frame's first address, "0x…" hex (2 MiB aligned). */
  start: string;
  /** Present bytes of the frame inside the VMA. */
  present: number;
  reason: Reason;
}

/** Huge pages that are not anonymous THP, each its own line: smaps sums over every VMA, bytes. */
export interface OtherHugeJson {
  /** Page-cache THP of files mapped by PMD (FilePmdMapped). */
  filePmdMapped: number;
  /** tmpfs/shmem THP mapped by PMD (ShmemPmdMapped). */
  shmemPmdMapped: number;
  /** hugetlbfs pages, private and shared (Private_Hugetlb, Shared_Hugetlb). */
  privateHugetlb: number;
  sharedHugetlb: number;
}

export interface TotalsJson {
  rss: number;
  /** All anonymous memory of the process. */
  anonymous: number;
  /** Of it, bytes on PMD huge pages. */
  anonHugePages: number;
  /** anonHugePages / anonymous, 0..1 (0 with no anonymous memory). */
  coverage: number;
  /** Anonymous bytes in THP-eligible VMAs that are not on huge pages: what THP could still win. */
  eligibleNotHuge: number;
  /** Anonymous bytes in VMAs advised nohugepage (flag "nh"): kept off huge pages on purpose. */
  noHugePage: number;
  /** Every anonymous byte in exactly one bucket, summed over the VMAs (schema 2). */
  account: AccountJson;
  /** File, shmem and hugetlb huge pages (schema 2). */
  otherHuge: OtherHugeJson;
  /**
   * THPs mapped by PTEs by folio size, in bytes, keyed as the kernel's tools/mm/thpmaps does:
   * "anon-thp-pte-aligned-64kB" (folios mapped whole at an address aligned to their size),
   * "...-unaligned-64kB", "anon-thp-pte-partial" (folios mapped in part), the same with "file-"
   * for page-cache and shmem folios, over every VMA of the process (file-backed ones too). Only
   * non-zero keys; PMD-mapped THP is not in it. From pagemap PFNs and /proc/kpageflags (root
   * only): null, not visible without root. Beside the buckets, not one of them: the anon keys
   * break pteMappedThp down (by kpageflags' own anon flag).
   */
  thpBySize?: ThpBySize | null;
}

/** `report --pid PID --json`. */
export interface ProcessReport {
  schema: typeof SCHEMA;
  kind: 'process';
  /** When it was read, ISO 8601. */
  time: string;
  pid: number;
  comm: string;
  host: HostJson;
  thp: ThpJson;
  /** prctl(PR_SET_THP_DISABLE) is on: none of the process's memory can be on huge pages. null: the kernel does not say (< 6.0). */
  thpDisabled: boolean | null;
  /** How anonHugePages was measured: "pagemap_scan" exact to the page, "smaps" AnonHugePages per VMA. */
  method: 'pagemap_scan' | 'smaps';
  /** Every VMA holding anonymous memory, in address order (before the totals: the CLI streams them). */
  vmas: VmaJson[];
  totals: TotalsJson;
  /** With --bloat only: the zero 4 KiB subpages of its PMD-mapped THPs (src/account/bloat.ts). */
  bloat?: BloatJson;
  /** Who owns the anonymous memory, and the fixes (added in schema 2; absent where its maps could not be read). */
  owners?: OwnersJson;
}

export interface ProcessSummaryJson {
  pid: number;
  comm: string;
  rss: number;
  anonymous: number;
  anonHugePages: number;
  coverage: number;
  thpDisabled: boolean | null;
}

/** One multi-size THP size: sysfs hugepages-<size>/enabled and its stats/ counters. */
export interface MthpJson {
  /** always, inherit, madvise or never. */
  enabled: string;
  /** stats/<name> (Linux >= 6.9): anon_fault_alloc, anon_fault_fallback, split, nr_anon … */
  stats: Record<string, number>;
}

/** `report --json` (no --pid). */
export interface SystemReport {
  schema: typeof SCHEMA;
  kind: 'system';
  time: string;
  host: HostJson;
  thp: ThpJson;
  /** From /proc/meminfo: AnonPages, AnonHugePages, and their ratio. */
  memory: { anonymous: number; anonHugePages: number; coverage: number };
  /** Every thp_* counter of /proc/vmstat, by its kernel name (events since boot). */
  counters: Record<string, number>;
  /** Every compact_* counter of /proc/vmstat: compaction is what makes order-9 blocks (schema 2). */
  compaction: Record<string, number>;
  /** Multi-size THP (Linux >= 6.8): per size ("64kB"), its enabled choice and its stats/ counters (schema 2). */
  mthp: Record<string, MthpJson>;
  /** Free blocks of at least the huge page's order, per NUMA node and zone (/proc/buddyinfo) (schema 2). */
  freeHugeBlocks: { node: number; zone: string; blocks: number }[];
  /** Per-process figures come from smaps_rollup. */
  method: 'smaps_rollup';
  /** Ranked by anonymous memory, largest first: the top 10, or all with --all. */
  processes: ProcessSummaryJson[];
  /** Processes read (kernel threads and zombies have no memory and are not counted). */
  readable: number;
  /** Processes we may not read (their smaps needs ptrace read access). */
  unreadable: number;
}


/** `report --cgroup PATH --json`: a memory cgroup's THP, from its own memory.stat (schema 2). */
export interface CgroupReport {
  schema: typeof SCHEMA;
  kind: 'cgroup';
  time: string;
  /** The cgroup directory as given. */
  path: string;
  /** 2: cgroup v2 (memory.stat anon, anon_thp, file_thp, shmem_thp); 1: v1 (rss, rss_huge). */
  version: 1 | 2;
  host: HostJson;
  thp: ThpJson;
  /** Anonymous memory charged to the cgroup (v2 anon; v1 total_rss). */
  anonymous: number;
  /** Of it, on transparent huge pages (v2 anon_thp; v1 total_rss_huge). */
  anonHugePages: number;
  /** anonHugePages / anonymous, 0..1. */
  coverage: number;
  /** File and shmem THP charged to the cgroup (v2 only; null on v1, which does not count them). */
  fileThp: number | null;
  shmemThp: number | null;
  /** The processes in it (cgroup.procs), from smaps_rollup, largest anonymous first. */
  processes: ProcessSummaryJson[];
  /** Processes in it we may not read. */
  unreadable: number;
  /**
   * The cgroup counts a page once; each process counts every page it maps, so pages shared
   * between them (a forked child) make the processes' sum exceed the cgroup's.
   */
  sharing: CgroupSharingJson;
}
