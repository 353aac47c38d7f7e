/**
 * Which families of the vocabulary a host may legitimately not write, and why (its kernel, its
 * cgroup layout, not being root): the tests that expect every family skip these, saying why.
 */
import * as fs from 'node:fs';

/** Why a family may be absent on this host, or undefined when it must be written. */
export function absentBecause(name: string): string | undefined {
  const thp = '/sys/kernel/mm/transparent_hugepage';
  const stats = fs.existsSync(thp) ? fs.readdirSync(thp).filter((d) => d.startsWith('hugepages-')).map((d) => `${thp}/${d}/stats`).filter((d) => fs.existsSync(d)) : [];
  if (name === 'hugespan_mthp_events_total' && !stats.length) return 'no hugepages-*/stats/ (Linux < 6.9)';
  if (name === 'hugespan_mthp_folios' && !stats.some((d) => fs.existsSync(`${d}/nr_anon`))) return 'no stats/nr_anon (Linux < 6.11)';
  if ((name === 'hugespan_process_pte_mapped_thp_bytes' || name === 'hugespan_process_pte_mapped_thp_by_size_bytes') && process.getuid?.() !== 0) return 'not root: frame numbers hidden';
  if (name === 'hugespan_process_thp_disabled' && !/^THP_enabled:/m.test(fs.readFileSync('/proc/self/status', 'utf8'))) return 'Linux < 6.0: status has no THP_enabled';
  if (name === 'hugespan_cgroup_other_huge_pages_bytes' && !fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return 'cgroup v1 memory controller: no file_thp/shmem_thp';
  if (!fs.existsSync(thp) && ['hugespan_huge_page_size_bytes', 'hugespan_thp_setting', 'hugespan_khugepaged_setting', 'hugespan_khugepaged_pages_collapsed_total', 'hugespan_khugepaged_full_scans_total', 'hugespan_free_huge_page_blocks'].includes(name)) return 'no THP in this kernel';
  return undefined;
}

