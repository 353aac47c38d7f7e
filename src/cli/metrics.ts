/**
 * The one metric vocabulary of hugespan: every fact it exports, with its name, type, unit, labels,
 * HELP and source. Invariant: `serve` and `report --format openmetrics|prometheus` write only
 * families defined here, so the same fact has the same name, type, unit and HELP wherever it is
 * written; README's metric table is checked against this list and a live scrape
 * (test/cli/metrics-vocabulary.test.ts). Names follow Prometheus' rules: base units (_bytes,
 * _seconds), ratios 0..1 (_ratio), counters end in _total in every format (the family name here
 * is without it, as OpenMetrics wants; each renderer adds it; the same for an info's _info). Label sets are bounded: no family
 * carries a per-pid label in host-wide output, only for processes the user selected by pid or comm.
 */

/** info: OpenMetrics' info (value 1, the facts in labels); a gauge in the text format, which has no info type. */
export type MetricType = 'gauge' | 'counter' | 'info';

/**
 * host: one per host (no process label); process: per selected process (`pid`, `comm`), or per
 * group (the --group-by label: `comm`, `exe` or `cgroup`) without a pid; cgroup: per cgroup,
 * from its memory.stat (`cgroup`); exporter: about hugespan itself.
 */
export type Scope = 'host' | 'process' | 'cgroup' | 'exporter';

export interface MetricFamily {
  /** Without `_total` for a counter, without `_info` for an info. */
  name: string;
  type: MetricType;
  /** OpenMetrics' UNIT, the name's last word; none for counts. */
  unit?: 'bytes' | 'seconds' | 'ratio';
  help: string;
  scope: Scope;
  /** Labels beyond the scope's own (pid/comm, the group's, cgroup). */
  labels: readonly string[];
  /** Where the value comes from (README's table). */
  source: string;
  /** When it is written at all, where not always (README's table; the vocabulary test skips it where this does not hold). */
  when?: string;
  /** Only per group (--group-by), never per process. */
  grouped?: true;
}

/** What a process's series are keyed by: one process (pid, comm), or a group without pid. */
export const GROUP_BY = ['comm', 'exe', 'cgroup'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

const f = (name: string, type: MetricType, scope: Scope, help: string, source: string, more: Partial<MetricFamily> = {}): MetricFamily => {
  const unit = /_(bytes|seconds|ratio)$/.exec(name)?.[1] as MetricFamily['unit'];
  return { name, type, unit, help, scope, labels: [], source, ...more };
};

/** Every family, in the order they are written. */
export const FAMILIES: readonly MetricFamily[] = [
  f('hugespan_build', 'info', 'exporter', 'Always 1: the hugespan version and the Node.js it runs on, as labels.', 'package.json, process.version', { labels: ['version', 'nodejs'], when: 'serve' }),
  f('hugespan_anonymous_bytes', 'gauge', 'host', 'Anonymous memory of the host (/proc/meminfo AnonPages).', '`/proc/meminfo` AnonPages'),
  f('hugespan_anon_huge_pages_bytes', 'gauge', 'host', 'Of it, on PMD-mapped transparent huge pages (/proc/meminfo AnonHugePages).', '`/proc/meminfo` AnonHugePages'),
  f('hugespan_anon_huge_pages_ratio', 'gauge', 'host', 'AnonHugePages / AnonPages of the host, 0..1.', 'the two above'),
  f('hugespan_other_huge_pages_bytes', 'gauge', 'host', 'Huge pages that are not anonymous THP (/proc/meminfo ShmemPmdMapped, FilePmdMapped), by kind.', '`/proc/meminfo` ShmemPmdMapped, FilePmdMapped', { labels: ['kind'] }),
  f('hugespan_huge_page_size_bytes', 'gauge', 'host', 'The PMD huge page size (hpage_pmd_size).', '`transparent_hugepage/hpage_pmd_size`', { when: 'the kernel has THP' }),
  f('hugespan_thp_events', 'counter', 'host', 'The kernel\'s thp_* event counters (/proc/vmstat), by name without "thp_".', '`/proc/vmstat` thp_*', { labels: ['event'] }),
  f('hugespan_compaction_events', 'counter', 'host', 'The kernel\'s compact_* counters (/proc/vmstat), by name without "compact_".', '`/proc/vmstat` compact_*', { labels: ['event'] }),
  f('hugespan_mthp_events', 'counter', 'host', 'Per THP size, the kernel\'s transparent_hugepage/hugepages-<size>/stats/ counters, by file name.', '`hugepages-*/stats/*` (not nr_*)', { labels: ['size', 'event'], when: 'Linux >= 6.9 (multi-size THP stats)' }),
  f('hugespan_mthp_folios', 'gauge', 'host', 'Per THP size, folios the kernel counts now (stats/nr_anon, nr_anon_partially_mapped), by kind.', '`hugepages-*/stats/nr_*`', { labels: ['size', 'kind'], when: 'Linux >= 6.11' }),
  f('hugespan_thp_setting', 'gauge', 'host', 'Always 1: the choice in each THP sysfs setting (enabled, defrag, shmem_enabled, hugepages-<size>/enabled).', '`transparent_hugepage/*enabled`, `defrag`', { labels: ['file', 'choice'], when: 'the kernel has THP' }),
  f('hugespan_khugepaged_setting', 'gauge', 'host', 'khugepaged\'s tunables as the kernel gives them, by file name (max_ptes_none, pages_to_scan, scan_sleep_millisecs ...).', '`transparent_hugepage/khugepaged/*`', { labels: ['file'], when: 'the kernel has THP' }),
  f('hugespan_khugepaged_pages_collapsed', 'counter', 'host', 'Huge pages khugepaged has collapsed since boot (khugepaged/pages_collapsed).', '`khugepaged/pages_collapsed`', { when: 'the kernel has THP' }),
  f('hugespan_khugepaged_full_scans', 'counter', 'host', 'Full passes khugepaged has made over every registered mm (khugepaged/full_scans).', '`khugepaged/full_scans`', { when: 'the kernel has THP' }),
  f('hugespan_free_huge_page_blocks', 'gauge', 'host', 'Free blocks of at least the PMD huge page\'s order, in huge pages, per NUMA node and zone (/proc/buddyinfo).', '`/proc/buddyinfo`', { labels: ['node', 'zone'], when: 'the kernel has THP' }),
  f('hugespan_unreadable_processes', 'gauge', 'host', 'Processes whose memory map hugespan may not read (not counted in any group).', 'smaps_rollup refused (EACCES)', { when: 'the host-wide textfile; serve --group-by without --pid/--comm' }),
  f('hugespan_processes', 'gauge', 'process', 'Processes in the group.', 'the group\'s members', { when: '--group-by', grouped: true }),
  f('hugespan_process_anonymous_bytes', 'gauge', 'process', 'Anonymous memory of a selected process or group (smaps Anonymous).', 'smaps Anonymous (groups without --pid/--comm: smaps_rollup)', { when: '--pid, --comm or --group-by' }),
  f('hugespan_process_pmd_mapped_bytes', 'gauge', 'process', 'Of it, on PMD-mapped huge pages (smaps AnonHugePages).', 'smaps AnonHugePages', { when: '--pid, --comm or --group-by' }),
  f('hugespan_process_pte_mapped_thp_bytes', 'gauge', 'process', 'Of it, in THPs mapped by PTEs (kpageflags; absent where frame numbers are hidden, i.e. without root).', 'kpageflags (root only)', { when: '--pid or --comm, as root' }),
  f('hugespan_process_pte_mapped_thp_by_size_bytes', 'gauge', 'process', 'THPs mapped by PTEs by folio size as the kernel\'s tools/mm/thpmaps counts them: kind anon (a breakdown of the pte_mapped_thp family) or file (page cache, shmem; every mapping), size e.g. 64kB ("any" for partial), alignment aligned, unaligned or partial. Non-zero sizes only; the two partial series always.', 'pagemap PFNs + kpageflags (root only)', { labels: ['kind', 'size', 'alignment'], when: '--pid or --comm, as root' }),
  f('hugespan_process_small_bytes', 'gauge', 'process', 'Of it, on small pages, by the first reason that applies (hugespan why).', 'the accounting; `reason` is the fixed set above', { labels: ['reason'], when: '--pid or --comm' }),
  f('hugespan_process_owner_anonymous_bytes', 'gauge', 'process', 'Anonymous memory of a selected process by owner: the runtime or allocator that made each VMA (hugespan report\'s owner column; a fixed set, every member written).', 'the owner attribution (`owner` is the fixed set of src/account/owners)', { labels: ['owner'], when: '--pid or --comm' }),
  f('hugespan_process_owner_pmd_mapped_bytes', 'gauge', 'process', 'Of a selected process\'s anonymous memory by owner, on PMD-mapped huge pages (by the report\'s method).', 'the owner attribution and the accounting', { labels: ['owner'], when: '--pid or --comm' }),
  f('hugespan_process_coverage_ratio', 'gauge', 'process', 'PMD-mapped / anonymous of a selected process or group, 0..1.', 'the two above', { when: '--pid, --comm or --group-by' }),
  f('hugespan_process_nohugepage_bytes', 'gauge', 'process', 'Anonymous memory in VMAs advised nohugepage (VmFlags nh).', 'smaps VmFlags', { when: '--pid or --comm' }),
  f('hugespan_process_eligible_not_huge_bytes', 'gauge', 'process', 'Anonymous memory in THP-eligible VMAs not on PMD huge pages.', 'smaps THPeligible, AnonHugePages', { when: '--pid or --comm' }),
  f('hugespan_process_thp_disabled', 'gauge', 'process', 'Processes (of the group; 0 or 1 for one) with THP switched off by prctl(PR_SET_THP_DISABLE).', '/proc/PID/status THP_enabled', { when: 'Linux >= 6.0, with --pid, --comm or --group-by' }),
  f('hugespan_cgroup_anonymous_bytes', 'gauge', 'cgroup', 'Anonymous memory charged to the cgroup (memory.stat anon, or rss in v1).', '`memory.stat` anon', { when: 'serve --group-by cgroup' }),
  f('hugespan_cgroup_anon_huge_pages_bytes', 'gauge', 'cgroup', 'Of it, on transparent huge pages (memory.stat anon_thp, or rss_huge in v1).', '`memory.stat` anon_thp', { when: 'serve --group-by cgroup' }),
  f('hugespan_cgroup_other_huge_pages_bytes', 'gauge', 'cgroup', 'File and shmem THP charged to the cgroup (memory.stat file_thp, shmem_thp), by kind.', '`memory.stat` file_thp, shmem_thp', { labels: ['kind'], when: 'serve --group-by cgroup, cgroup v2' }),
  f('hugespan_scrape_duration_seconds', 'gauge', 'exporter', 'How long the last reading of the kernel took.', 'the exporter', { when: 'serve' }),
  f('hugespan_scrape_errors', 'counter', 'exporter', 'Selected processes that could not be read on a scrape (not permitted, or a read failing); not the ones that exited.', 'the exporter', { when: 'serve' }),
  f('hugespan_scrape_exited', 'counter', 'exporter', 'Selected processes found exited, or zombies, when a scrape read them: expected churn, not errors.', 'the exporter', { when: 'serve' }),
];

const BY_NAME = new Map(FAMILIES.map((x) => [x.name, x]));

/** The family called `name`; throws for a name outside the vocabulary (a programming error). */
export function family(name: string): MetricFamily {
  const x = BY_NAME.get(name);
  if (!x) throw new Error(`no metric family ${name} in the vocabulary (src/cli/metrics.ts)`);
  return x;
}

/** The name a sample of the family carries: counters end in _total, infos in _info, in every format. */
export function sampleName(x: MetricFamily): string {
  return x.type === 'counter' ? `${x.name}_total` : x.type === 'info' ? `${x.name}_info` : x.name;
}
