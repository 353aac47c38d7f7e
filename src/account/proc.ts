/**
 * What /proc says about processes and the whole system, for the accounting to use.
 * Invariant: a pid is read only through this file, so every failure to read one becomes the
 * same one-sentence ProcessError (with a code) everywhere: no such process, exited, not
 * permitted, kernel thread, zombie. `seen` pids (read before) that vanish have "exited", never
 * "no such process".
 */
import * as fs from 'node:fs';
import { binding } from '../native/binding';
import { readSmapsRollup, readSmapsWhere, streamSmaps, SmapsFilter, Vma } from '../native/smaps';
import type { FlatBatch } from '../native/binding';
import { coverage, coverageFlat, Coverage, FlatCoverage } from '../native/coverage';
import { thpDisabledFor } from '../native/host';
import { oneOfArg, optionsArg, stringArg } from '../native/args';

export const PROCESS_ERROR_CODES = ['ERR_HUGESPAN_NO_PROCESS', 'ERR_HUGESPAN_EXITED', 'ERR_HUGESPAN_NOT_PERMITTED', 'ERR_HUGESPAN_NO_USER_MEMORY', 'ERR_HUGESPAN_NOT_A_CGROUP'] as const;
export type ProcessErrorCode = (typeof PROCESS_ERROR_CODES)[number];

/** Why a process could not be read, in one sentence a user acts on. */
export class ProcessError extends Error {
  override name = 'ProcessError';
  readonly code: ProcessErrorCode;

  constructor(message: string, code: ProcessErrorCode, options?: { cause?: unknown }) {
    const { cause } = optionsArg<{ cause?: unknown }>(options, 'options', ['cause']);
    super(stringArg(message, 'message'), cause === undefined ? undefined : { cause });
    this.code = oneOfArg(code, 'code', PROCESS_ERROR_CODES);
  }
}

/** task_struct flag PF_KTHREAD (include/linux/sched.h), field 9 of /proc/<pid>/stat. */
const PF_KTHREAD = 0x00200000;

export interface Identity {
  pid: number;
  comm: string;
  /** One letter of stat: R, S, D, Z (zombie), X (dead) … */
  state: string;
  kernelThread: boolean;
}

function codeOf(e: unknown): string | undefined {
  return (e as { code?: string } | null)?.code;
}

/** Turn what the addon threw while reading `pid` into the sentence a user acts on. */
function explain(pid: number, e: unknown, seen: boolean): unknown {
  switch (codeOf(e)) {
    case 'EACCES':
    case 'EPERM':
      return new ProcessError(`not permitted to read pid ${pid}'s memory map (needs ptrace read access; try as its user or root)`, 'ERR_HUGESPAN_NOT_PERMITTED', { cause: e });
    case 'ENOENT':
    case 'ESRCH':
      return new ProcessError(seen ? `pid ${pid} exited while being read` : `no process with pid ${pid}`, seen ? 'ERR_HUGESPAN_EXITED' : 'ERR_HUGESPAN_NO_PROCESS', { cause: e });
    default:
      return e;
  }
}

/** Run one read of `pid`'s /proc files, its failures explained. */
function readingPid<T>(pid: number, seen: boolean, read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw explain(pid, e, seen);
  }
}

/** /proc/<pid>/stat: "pid (comm) state ppid … flags …"; comm may hold spaces and parentheses. */
function parseStat(text: string): { comm: string; state: string; flags: number } {
  const close = text.lastIndexOf(')');
  const fields = text.slice(close + 2).split(' ');
  return { comm: text.slice(text.indexOf('(') + 1, close), state: fields[0], flags: Number(fields[6]) };
}

/** Who `pid` is; throws "no process with pid N" (or "exited" when `seen`). */
function identify(pid: number, seen = false): Identity {
  const stat = parseStat(readingPid(pid, seen, () => binding.readProc(pid, 'stat')));
  return { pid, comm: stat.comm, state: stat.state, kernelThread: (stat.flags & PF_KTHREAD) !== 0 };
}

/** A process that has user memory to show, else the ProcessError saying why it has none. */
function requireUserMemory(id: Identity, seen: boolean): void {
  if (id.kernelThread) throw new ProcessError(`pid ${id.pid} is a kernel thread (${id.comm}): it has no user memory`, 'ERR_HUGESPAN_NO_USER_MEMORY');
  if (id.state === 'Z' || id.state === 'X') {
    throw seen
      ? new ProcessError(`pid ${id.pid} exited while being read`, 'ERR_HUGESPAN_EXITED')
      : new ProcessError(`pid ${id.pid} is a zombie (${id.comm}): it has exited and has no memory left; its parent has not reaped it yet`, 'ERR_HUGESPAN_NO_USER_MEMORY');
  }
}

export interface ProcessMemory extends Identity {
  /** The VMAs that passed readProcess's filter (all of them without one). */
  vmas: Vma[];
  /** Every smaps field summed over all the process's VMAs, filtered out or not (rss, ...). */
  sums: Record<string, number>;
  /** THP switched off for the process by prctl; undefined where the kernel does not say (< 6.0). */
  thpDisabled: boolean | undefined;
}

/**
 * The VMAs of a live user process that pass `filter` (every VMA without one), with its
 * per-process THP switch. The filter runs in the addon, so a caller that shows only
 * anonymous memory builds no object for the file mappings it would drop.
 */
export function readProcess(pid: number, seen = false, filter: SmapsFilter = {}): ProcessMemory {
  return read(pid, seen, () => readSmapsWhere(pid, filter));
}

/**
 * readProcess in batches: `start` once the process is known to have memory to read (its
 * identity and THP switch), before the first batch; then `batch` per few thousand VMAs in the
 * flat form while the addon reads the rest. Returns the sums over every VMA.
 */
export function streamProcess(
  pid: number,
  seen: boolean,
  filter: SmapsFilter,
  start: (p: Identity & { thpDisabled: boolean | undefined }) => void,
  batch: (flat: FlatBatch) => void,
): { sums: Record<string, number> } {
  const id = identify(pid, seen);
  requireUserMemory(id, seen);
  const thpDisabled = readingPid(pid, true, () => thpDisabledFor(pid));
  let started = false;
  const begin = (): void => {
    if (!started) start({ ...id, thpDisabled });
    started = true;
  };
  const { total, sums } = readingPid(pid, true, () =>
    streamSmaps(pid, filter, (flat) => {
      begin();
      batch(flat);
    }),
  );
  // identify() saw a live process with memory; an empty map now means it exited since.
  if (total === 0) throw new ProcessError(`pid ${pid} exited while being read`, 'ERR_HUGESPAN_EXITED');
  begin();
  return { sums };
}

function read<T extends { total: number; sums: Record<string, number> }>(pid: number, seen: boolean, smaps: () => T): Identity & T & { thpDisabled: boolean | undefined } {
  const id = identify(pid, seen);
  requireUserMemory(id, seen);
  const got = readingPid(pid, true, smaps);
  // identify() saw a live process with memory; an empty map now means it exited since.
  if (got.total === 0) throw new ProcessError(`pid ${pid} exited while being read`, 'ERR_HUGESPAN_EXITED');
  const thpDisabled = readingPid(pid, true, () => thpDisabledFor(pid));
  return { ...id, ...got, thpDisabled };
}

/**
 * Exact (PAGEMAP_SCAN) or prorated coverage of part of a process that is being read. `vmas`:
 * the VMAs over [start, end) as just read, for coverage()'s smaps cross-check (no second read).
 */
export function scan(pid: number, start: number, end: number, vmas?: readonly Vma[]): Coverage {
  return readingPid(pid, true, () => coverage(pid, start, end, { vmas }));
}

/**
 * One PAGEMAP_SCAN walk over [start, end) of a process being read, runs left flat for a merge
 * against its VMAs (report.ts): one fd and one walk, not one per VMA.
 */
export function scanFlat(pid: number, start: number, end: number, vmas?: readonly Vma[]): FlatCoverage {
  return readingPid(pid, true, () => coverageFlat(pid, start, end, { vmas }));
}

/** A VMA holds anonymous memory: the only memory THP backs for a process's own data. */
export function holdsAnonymous(v: Vma): boolean {
  return v.anonymous > 0;
}

/** huge / anonymous in 0..1; 0 with nothing anonymous (no memory is not bad coverage either). */
export function coverageRatio(huge: number, anonymous: number): number {
  return anonymous > 0 ? Math.min(1, huge / anonymous) : 0;
}

export interface ProcessSummary {
  pid: number;
  comm: string;
  rss: number;
  anonymous: number;
  /** Pss_Anon: the process's share of its anonymous pages (a page n processes map counts 1/n). */
  pssAnon: number;
  anonHugePages: number;
  thpDisabled: boolean | undefined;
}

/**
 * smaps_rollup of every process we may read. Kernel threads, zombies and processes that exit
 * meanwhile have no memory to rank and are skipped; those we may not read are counted.
 */
export function summarizeProcesses(pids: number[] = listPids()): { processes: ProcessSummary[]; unreadable: number } {
  const processes: ProcessSummary[] = [];
  let unreadable = 0;
  for (const pid of pids) {
    try {
      const r = readSmapsRollup(pid);
      const comm = binding.readProc(pid, 'comm').trim();
      processes.push({ pid, comm, rss: r.rss, anonymous: r.anonymous, pssAnon: (r.pssAnon as number | undefined) ?? r.anonymous, anonHugePages: r.anonHugePages, thpDisabled: thpDisabledFor(pid) });
    } catch (e) {
      const code = codeOf(e);
      if (code === 'EACCES' || code === 'EPERM') unreadable++;
      else if (code !== 'ENOENT' && code !== 'ESRCH' && code !== 'ERR_HUGESPAN_NO_MM') throw e;
    }
  }
  return { processes, unreadable };
}

function listPids(): number[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
}

/** "Key:   123 kB" lines of /proc/meminfo, in bytes. */
export function readMeminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of fs.readFileSync('/proc/meminfo', 'utf8').matchAll(/^(\S+):\s+(\d+)(?: (kB))?$/gm)) {
    out[m[1]] = Number(m[2]) * (m[3] ? 1024 : 1);
  }
  return out;
}

/** The kernel's THP event counters: every `thp_*` line of /proc/vmstat, by its own name. */
export function readThpCounters(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of fs.readFileSync('/proc/vmstat', 'utf8').matchAll(/^(thp_\w+) (\d+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/** Every compact_* line of /proc/vmstat, by its own name. */
export function readCompactionCounters(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of fs.readFileSync('/proc/vmstat', 'utf8').matchAll(/^(compact_\w+) (\d+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

const THP = '/sys/kernel/mm/transparent_hugepage';

/** Each multi-size THP size's enabled choice and its stats/ counters; {} before Linux 6.8. */
export function readMthp(): Record<string, { enabled: string; stats: Record<string, number> }> {
  const out: Record<string, { enabled: string; stats: Record<string, number> }> = {};
  let dirs: string[] = [];
  try {
    dirs = fs.readdirSync(THP).filter((d) => /^hugepages-\d+kB$/.test(d));
  } catch {
    return out;
  }
  for (const d of dirs.sort((a, b) => parseInt(a.slice(10)) - parseInt(b.slice(10)))) {
    const size = d.slice('hugepages-'.length);
    let enabled = '';
    try {
      enabled = /\[(\w+)\]/.exec(fs.readFileSync(`${THP}/${d}/enabled`, 'utf8'))?.[1] ?? '';
    } catch {
      // a size without an enabled file: leave it empty
    }
    const stats: Record<string, number> = {};
    try {
      for (const f of fs.readdirSync(`${THP}/${d}/stats`).sort()) {
        const n = Number(fs.readFileSync(`${THP}/${d}/stats/${f}`, 'utf8').trim());
        if (Number.isFinite(n)) stats[f] = n;
      }
    } catch {
      // no stats/ before Linux 6.9
    }
    out[size] = { enabled, stats };
  }
  return out;
}

/** Free blocks of order >= `order` per node and zone, from /proc/buddyinfo (one column per order). */
export function readFreeBlocks(order: number): { node: number; zone: string; blocks: number }[] {
  const out: { node: number; zone: string; blocks: number }[] = [];
  let text = '';
  try {
    text = fs.readFileSync('/proc/buddyinfo', 'utf8');
  } catch {
    return out;
  }
  for (const m of text.matchAll(/^Node (\d+), zone\s+(\S+)\s+([\d\s]+)$/gm)) {
    const counts = m[3].trim().split(/\s+/).map(Number);
    // A block of order k holds 2^(k - order) blocks of the huge page's order.
    let blocks = 0;
    for (let k = order; k < counts.length; k++) blocks += counts[k] * 2 ** (k - order);
    out.push({ node: Number(m[1]), zone: m[2], blocks });
  }
  return out;
}

/** A memory cgroup's memory.stat as numbers; a ProcessError when PATH is not a memory cgroup. */
export function readCgroupStat(path: string): Record<string, number> {
  let text: string;
  try {
    text = fs.readFileSync(`${path}/memory.stat`, 'utf8');
  } catch (e) {
    throw new ProcessError(`${path} is not a memory cgroup (no readable memory.stat: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, 'ERR_HUGESPAN_NOT_A_CGROUP', { cause: e });
  }
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(\w+) (\d+)$/gm)) out[m[1]] = Number(m[2]);
  return out;
}

/** The pids in a cgroup (cgroup.procs), ascending. */
export function cgroupPids(path: string): number[] {
  try {
    return fs.readFileSync(`${path}/cgroup.procs`, 'utf8').split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);
  } catch {
    return [];
  }
}
