/**
 * What this host and process allow: page sizes, the THP settings in sysfs, the per-process
 * THP switch. Invariant: reads only; a missing file means "absent", never a guess.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { binding } from './binding';
import { pagemapScanSupported } from './coverage';
import type { Pid } from './smaps';

const THP = '/sys/kernel/mm/transparent_hugepage';

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** "always [madvise] never" -> "madvise" */
function bracketed(text: string | undefined): string | undefined {
  return text?.match(/\[([^\]]+)\]/)?.[1] ?? text;
}

export interface ThpSettings {
  enabled?: string;
  defrag?: string;
  shmemEnabled?: string;
  /** khugepaged tunables and counters, numbers by file name (max_ptes_none, full_scans, ...). */
  khugepaged: Record<string, number>;
  /** Multi-size THP: per size ('64kB'), its `enabled` choice (always, inherit, madvise, never). */
  sizes: Record<string, string>;
}

export interface HostInfo {
  kernel: string;
  arch: string;
  pageSize: number;
  /** hpage_pmd_size in bytes; 0 when the kernel has no transparent huge pages. */
  hugePageSize: number;
  thp: ThpSettings;
  pagemapScan: boolean;
}

export function thpSettings(): ThpSettings {
  const khugepaged: Record<string, number> = {};
  for (const f of safeList(`${THP}/khugepaged`)) {
    const v = Number(read(`${THP}/khugepaged/${f}`));
    if (Number.isFinite(v)) khugepaged[f] = v;
  }
  const sizes: Record<string, string> = {};
  for (const d of safeList(THP)) {
    const m = d.match(/^hugepages-(\d+kB)$/);
    const choice = m && bracketed(read(`${THP}/${d}/enabled`));
    if (m && choice) sizes[m[1]] = choice;
  }
  return {
    enabled: bracketed(read(`${THP}/enabled`)),
    defrag: bracketed(read(`${THP}/defrag`)),
    shmemEnabled: bracketed(read(`${THP}/shmem_enabled`)),
    khugepaged,
    sizes,
  };
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir).sort();
  } catch {
    return [];
  }
}

export function hugePageSize(): number {
  const n = Number(read(`${THP}/hpage_pmd_size`));
  return Number.isFinite(n) && n > 0 && (n & (n - 1)) === 0 ? n : 0;
}

/** The one reading of the host that sameHost() holds while it runs, if any. */
let pinned: HostInfo | undefined;

/** What the host allows, read now (or the reading sameHost() holds). */
export function hostInfo(): HostInfo {
  return pinned ?? readHostInfo();
}

/**
 * Run `fn` with one reading of the host for all of it: every hostInfo() inside returns the same
 * value. A scrape of 200 processes read the THP sysfs files (some 30 of them) once per process,
 * 0.6 ms each time, for settings that are one fact of the moment of the scrape.
 */
export function sameHost<T>(fn: () => T): T {
  const outer = pinned;
  pinned = outer ?? readHostInfo();
  try {
    return fn();
  } finally {
    pinned = outer;
  }
}

function readHostInfo(): HostInfo {
  return {
    kernel: os.release(),
    arch: process.arch,
    pageSize: binding.pageSize(),
    hugePageSize: hugePageSize(),
    thp: thpSettings(),
    pagemapScan: pagemapScanSupported(),
  };
}

/** Whether THP is switched off for this process (prctl PR_GET_THP_DISABLE). */
export function thpDisabledForSelf(): boolean {
  return binding.thpDisabled();
}

/** PR_SET_THP_DISABLE for the whole current process and its future children. */
export function setThpDisabledForSelf(disabled: boolean): void {
  binding.setThpDisabled(disabled);
}

/** Whether THP is off for any process: `THP_enabled: 0` in its status (Linux >= 6.0). */
export function thpDisabledFor(pid: Pid): boolean | undefined {
  const m = binding.readProc(pid, 'status').match(/^THP_enabled:\s*(\d)/m);
  return m ? m[1] === '0' : undefined;
}

/**
 * Can this process get PMD huge pages in memory it advises `hugepage`? `reason` says why not,
 * precisely enough to print beside a skipped test.
 */
export function hugePagesAvailable(): { ok: true } | { ok: false; reason: string } {
  const size = hugePageSize();
  if (!size) return { ok: false, reason: 'the kernel has no transparent huge pages (no hpage_pmd_size)' };
  const enabled = thpSettings().enabled;
  if (enabled === 'never') return { ok: false, reason: `THP is disabled host-wide (${THP}/enabled = never)` };
  if (thpDisabledForSelf()) return { ok: false, reason: 'THP is disabled for this process (prctl PR_SET_THP_DISABLE)' };
  return { ok: true };
}
