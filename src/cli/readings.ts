/**
 * What the kernel says, turned into samples of the vocabulary (metrics.ts): the host, selected
 * processes, groups of processes, cgroups. Invariant: `serve` and the textfile output go through
 * these same functions, so one fact gets one name, one unit and one value whoever writes it; a
 * group's series carry its key (comm, exe or cgroup path) and never a pid, so they survive
 * restarts; a process that is gone before it is keyed is left out, not guessed.
 */
import * as fs from 'node:fs';
import { REASONS } from '../account/reasons';
import { OWNERS } from '../account/owners';
import type { Owner } from '../account/owners';
import { parseThpSizeKey } from '../account/thp-sizes';
import type { ThpBySize } from '../account/thp-sizes';
import type { ProcessReport, SystemReport } from '../account/schema';
import { coverageRatio, readCgroupStat, readCompactionCounters, readFreeBlocks, readMeminfo, readMthp, readThpCounters } from '../account/proc';
import { hostInfo } from '../native/host';
import type { GroupBy } from './metrics';
import { Samples } from './exposition';

export interface HostReading {
  anonymous: number;
  anonHugePages: number;
  /** ShmemPmdMapped, FilePmdMapped; absent where the reading did not include them. */
  otherHuge?: { shmem: number; file: number };
  hugePageSize: number;
  thpCounters: Record<string, number>;
  compaction: Record<string, number>;
  mthp: Record<string, { enabled: string; stats: Record<string, number> }>;
  /** sysfs file (enabled, defrag, shmem_enabled, hugepages-64kB/enabled) -> its choice. */
  settings: Record<string, string>;
  khugepaged: Record<string, number>;
  freeHugeBlocks: { node: number; zone: string; blocks: number }[];
  /** Processes whose memory could not be read (host views that read every process). */
  unreadable?: number;
}

function settingsOf(t: { enabled?: string | null; defrag?: string | null; shmemEnabled?: string | null; sizes: Record<string, string> }): Record<string, string> {
  const out: Record<string, string> = {};
  if (t.enabled) out.enabled = t.enabled;
  if (t.defrag) out.defrag = t.defrag;
  if (t.shmemEnabled) out.shmem_enabled = t.shmemEnabled;
  for (const [size, choice] of Object.entries(t.sizes)) out[`hugepages-${size}/enabled`] = choice;
  return out;
}

/** The host, read now: meminfo, vmstat, THP sysfs, buddyinfo (no process is read). */
export function readHost(): HostReading {
  const m = readMeminfo();
  // hostInfo(): within a scrape (sameHost) the one reading every process's report also uses.
  const host = hostInfo();
  const huge = host.hugePageSize;
  const thp = host.thp;
  const pageSize = host.pageSize;
  return {
    anonymous: m.AnonPages ?? 0,
    anonHugePages: m.AnonHugePages ?? 0,
    otherHuge: { shmem: m.ShmemPmdMapped ?? 0, file: m.FilePmdMapped ?? 0 },
    hugePageSize: huge,
    thpCounters: readThpCounters(),
    compaction: readCompactionCounters(),
    mthp: readMthp(),
    settings: settingsOf(thp),
    khugepaged: thp.khugepaged,
    freeHugeBlocks: huge ? readFreeBlocks(Math.log2(huge / pageSize)) : [],
  };
}

/** The host as `report` read it (the textfile writes what the report holds, nothing read twice). */
export function hostOfReport(r: SystemReport): HostReading {
  return {
    anonymous: r.memory.anonymous,
    anonHugePages: r.memory.anonHugePages,
    hugePageSize: r.thp.hugePageSize,
    thpCounters: r.counters,
    compaction: r.compaction,
    mthp: r.mthp,
    settings: settingsOf(r.thp),
    khugepaged: r.thp.khugepaged,
    freeHugeBlocks: r.freeHugeBlocks,
    unreadable: r.unreadable,
  };
}

/** khugepaged's progress counters; every other file there is a tunable. */
const KHUGEPAGED_PROGRESS = new Set(['pages_collapsed', 'full_scans']);

export function hostSamples(h: HostReading, out: Samples): void {
  out.add('hugespan_anonymous_bytes', h.anonymous);
  out.add('hugespan_anon_huge_pages_bytes', h.anonHugePages);
  out.add('hugespan_anon_huge_pages_ratio', coverageRatio(h.anonHugePages, h.anonymous));
  if (h.otherHuge) {
    out.add('hugespan_other_huge_pages_bytes', h.otherHuge.shmem, { kind: 'shmem' });
    out.add('hugespan_other_huge_pages_bytes', h.otherHuge.file, { kind: 'file' });
  }
  if (h.hugePageSize) out.add('hugespan_huge_page_size_bytes', h.hugePageSize);
  for (const [k, v] of Object.entries(h.thpCounters)) out.add('hugespan_thp_events', v, { event: k.replace(/^thp_/, '') });
  for (const [k, v] of Object.entries(h.compaction)) out.add('hugespan_compaction_events', v, { event: k.replace(/^compact_/, '') });
  for (const [size, m] of Object.entries(h.mthp)) {
    for (const [k, v] of Object.entries(m.stats)) {
      if (k.startsWith('nr_')) out.add('hugespan_mthp_folios', v, { size, kind: k.slice(3) });
      else out.add('hugespan_mthp_events', v, { size, event: k });
    }
  }
  for (const [file, choice] of Object.entries(h.settings)) out.add('hugespan_thp_setting', 1, { file, choice });
  for (const [file, v] of Object.entries(h.khugepaged)) if (!KHUGEPAGED_PROGRESS.has(file)) out.add('hugespan_khugepaged_setting', v, { file });
  if (h.khugepaged.pages_collapsed !== undefined) out.add('hugespan_khugepaged_pages_collapsed', h.khugepaged.pages_collapsed);
  if (h.khugepaged.full_scans !== undefined) out.add('hugespan_khugepaged_full_scans', h.khugepaged.full_scans);
  for (const b of h.freeHugeBlocks) out.add('hugespan_free_huge_page_blocks', b.blocks, { node: String(b.node), zone: b.zone });
  if (h.unreadable !== undefined) out.add('hugespan_unreadable_processes', h.unreadable);
}

/**
 * One process's figures. From the full accounting (a ProcessReport) every field is set; from
 * smaps_rollup (host-wide groups) only anonymous, pmdMapped and thpDisabled.
 */
export interface ProcessFacts {
  pid: number;
  comm: string;
  anonymous: number;
  pmdMapped: number;
  /** The report's coverage (its method's huge bytes / anonymous); undefined: pmdMapped / anonymous. */
  coverage?: number;
  /** null: not visible (no root); undefined: not read. */
  pteMappedThp?: number | null;
  /** THPs mapped by PTEs by folio size (thpmaps' keys); null: not visible (no root); undefined: not read. */
  thpBySize?: ThpBySize | null;
  reasons?: Partial<Record<string, number>>;
  /** By owner: anonymous bytes and those on PMD huge pages; undefined: owners not read. */
  owners?: Partial<Record<Owner, { anonymous: number; pmdMapped: number }>>;
  noHugePage?: number;
  eligibleNotHuge?: number;
  thpDisabled: boolean | null | undefined;
}

export function factsOfReport(r: ProcessReport): ProcessFacts {
  const t = r.totals;
  const a = t.account;
  return {
    pid: r.pid,
    comm: r.comm,
    anonymous: a.anonymous,
    pmdMapped: a.pmdMapped,
    coverage: t.coverage,
    pteMappedThp: a.pteMappedThp,
    thpBySize: t.thpBySize,
    reasons: a.reasons,
    owners: r.owners && Object.fromEntries(r.owners.byOwner.map((o) => [o.owner, { anonymous: o.anonymous, pmdMapped: o.anonHugePages }])),
    noHugePage: t.noHugePage,
    eligibleNotHuge: t.eligibleNotHuge,
    thpDisabled: r.thpDisabled,
  };
}

export function factsOfSummary(p: { pid: number; comm: string; anonymous: number; anonHugePages: number; thpDisabled: boolean | null | undefined }): ProcessFacts {
  return { pid: p.pid, comm: p.comm, anonymous: p.anonymous, pmdMapped: Math.min(p.anonymous, p.anonHugePages), thpDisabled: p.thpDisabled };
}

/** The process's cgroup path: cgroup v2's "0::" line, else v1's memory controller's. */
export function cgroupOf(pid: number): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  const v2 = /^0::(.*)$/m.exec(text)?.[1];
  const memory = /^\d+:(?:[^:]*,)?memory(?:,[^:]*)?:(.*)$/m.exec(text)?.[1];
  return unified() ? (v2 ?? memory) : (memory ?? v2);
}

/** cgroup v2 alone (not v1, nor the hybrid layout whose memory controller is v1's). */
function unified(): boolean {
  return fs.existsSync('/sys/fs/cgroup/cgroup.controllers');
}

/** Where a cgroup path's memory.stat lives: the v2 hierarchy, else v1's memory one. */
export function cgroupDir(path: string): string {
  return unified() ? `/sys/fs/cgroup${path}` : `/sys/fs/cgroup/memory${path}`;
}

/** The group a process belongs to; undefined when it is gone (or its key unreadable: exe of another user's process without root). */
export function groupKey(p: { pid: number; comm: string }, by: GroupBy): string | undefined {
  switch (by) {
    case 'comm':
      return p.comm;
    case 'exe':
      try {
        return fs.readlinkSync(`/proc/${p.pid}/exe`).replace(/ \(deleted\)$/, '');
      } catch {
        return undefined;
      }
    case 'cgroup':
      return cgroupOf(p.pid);
  }
}

function add(into: Partial<Record<string, number>>, from: Partial<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + (v ?? 0);
}

interface Group {
  labels: Record<string, string>;
  n: number;
  facts: ProcessFacts;
  /** Members with THP off by prctl; undefined while no member's kernel said. */
  thpOff: number | undefined;
}

const thpOff = (p: ProcessFacts): number | undefined => (p.thpDisabled === null || p.thpDisabled === undefined ? undefined : Number(p.thpDisabled));

/**
 * The per-process families: one series per process (pid, comm), or, with `by`, one per group
 * (the key as the only label) summing its members. Returns the groups' keys (for cgroupSamples).
 */
export function processSamples(list: readonly ProcessFacts[], out: Samples, by?: GroupBy): string[] {
  const groups = new Map<string, Group>();
  for (const p of list) {
    const key = by ? groupKey(p, by) : String(p.pid);
    if (key === undefined) continue;
    const g = groups.get(key);
    if (!g) {
      const owners = p.owners && Object.fromEntries(Object.entries(p.owners).map(([o, x]) => [o, { ...x }]));
      groups.set(key, { labels: by ? { [by]: key } : { pid: String(p.pid), comm: p.comm }, n: 1, facts: { ...p, reasons: p.reasons && { ...p.reasons }, thpBySize: p.thpBySize && { ...p.thpBySize }, owners }, thpOff: thpOff(p) });
      continue;
    }
    const s = g.facts;
    g.n++;
    s.anonymous += p.anonymous;
    s.pmdMapped += p.pmdMapped;
    s.coverage = undefined;
    if (s.pteMappedThp !== undefined) s.pteMappedThp = s.pteMappedThp === null || p.pteMappedThp == null ? null : s.pteMappedThp + p.pteMappedThp;
    if (s.reasons && p.reasons) add(s.reasons, p.reasons);
    if (s.owners && p.owners) {
      for (const [o, x] of Object.entries(p.owners) as [Owner, { anonymous: number; pmdMapped: number }][]) {
        const t = (s.owners[o] ??= { anonymous: 0, pmdMapped: 0 });
        t.anonymous += x.anonymous;
        t.pmdMapped += x.pmdMapped;
      }
    } else s.owners = undefined;
    if (s.thpBySize && p.thpBySize) add(s.thpBySize, p.thpBySize);
    else if (s.thpBySize) s.thpBySize = null;
    if (s.noHugePage !== undefined) s.noHugePage += p.noHugePage ?? 0;
    if (s.eligibleNotHuge !== undefined) s.eligibleNotHuge += p.eligibleNotHuge ?? 0;
    const off = thpOff(p);
    if (off !== undefined) g.thpOff = (g.thpOff ?? 0) + off;
  }
  for (const { labels, n, facts: s, thpOff: off } of groups.values()) {
    if (by) out.add('hugespan_processes', n, labels);
    out.add('hugespan_process_anonymous_bytes', s.anonymous, labels);
    out.add('hugespan_process_pmd_mapped_bytes', s.pmdMapped, labels);
    if (s.pteMappedThp != null) out.add('hugespan_process_pte_mapped_thp_bytes', s.pteMappedThp, labels);
    if (s.thpBySize) sizeSamples(s.thpBySize, out, labels);
    if (s.reasons) for (const { code } of REASONS) out.add('hugespan_process_small_bytes', s.reasons[code] ?? 0, { ...labels, reason: code });
    if (s.owners) {
      for (const { code } of OWNERS) {
        out.add('hugespan_process_owner_anonymous_bytes', s.owners[code]?.anonymous ?? 0, { ...labels, owner: code });
        out.add('hugespan_process_owner_pmd_mapped_bytes', s.owners[code]?.pmdMapped ?? 0, { ...labels, owner: code });
      }
    }
    out.add('hugespan_process_coverage_ratio', s.coverage ?? coverageRatio(s.pmdMapped, s.anonymous), labels);
    if (s.noHugePage !== undefined) out.add('hugespan_process_nohugepage_bytes', s.noHugePage, labels);
    if (s.eligibleNotHuge !== undefined) out.add('hugespan_process_eligible_not_huge_bytes', s.eligibleNotHuge, labels);
    if (off !== undefined) out.add('hugespan_process_thp_disabled', off, labels);
  }
  return [...groups.keys()];
}

/** The per-size family of one process or group: its non-zero sizes, and both partial series always. */
function sizeSamples(bySize: ThpBySize, out: Samples, labels: Record<string, string>): void {
  const partial = { 'anon-thp-pte-partial': 0, 'file-thp-pte-partial': 0 };
  for (const [key, bytes] of Object.entries({ ...partial, ...bySize })) {
    const k = parseThpSizeKey(key);
    if (k) out.add('hugespan_process_pte_mapped_thp_by_size_bytes', bytes, { ...labels, kind: k.kind, size: k.sizeKb === undefined ? 'any' : `${k.sizeKb}kB`, alignment: k.cls });
  }
}

/** Each cgroup's own THP figures from its memory.stat; a cgroup gone meanwhile is left out. */
export function cgroupSamples(paths: readonly string[], out: Samples): void {
  for (const path of paths) {
    let stat: Record<string, number>;
    try {
      stat = readCgroupStat(cgroupDir(path));
    } catch {
      continue;
    }
    const labels = { cgroup: path };
    const v2 = 'anon' in stat;
    out.add('hugespan_cgroup_anonymous_bytes', v2 ? stat.anon : (stat.total_rss ?? stat.rss ?? 0), labels);
    out.add('hugespan_cgroup_anon_huge_pages_bytes', v2 ? (stat.anon_thp ?? 0) : (stat.total_rss_huge ?? stat.rss_huge ?? 0), labels);
    if (v2) {
      out.add('hugespan_cgroup_other_huge_pages_bytes', stat.file_thp ?? 0, { ...labels, kind: 'file' });
      out.add('hugespan_cgroup_other_huge_pages_bytes', stat.shmem_thp ?? 0, { ...labels, kind: 'shmem' });
    }
  }
}

/** hugespan_build_info's labels. */
export function buildInfo(out: Samples): void {
  let version = 'unknown';
  try {
    version = (JSON.parse(fs.readFileSync(`${__dirname}/../../package.json`, 'utf8')) as { version: string }).version;
  } catch {
    // a repackaged build without its package.json: the labels still say which Node
  }
  out.add('hugespan_build', 1, { version, nodejs: process.version });
}
