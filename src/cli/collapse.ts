/**
 * `hugespan collapse --pid PID [--range START-END]`: collapse now, into huge pages, the frames
 * the accounting calls collapsible (khugepaged would get there, later), and say per frame what
 * happened. Invariant: only frames whose reason is `collapsible-waiting` are touched (never an
 * `nh` VMA, never a frame with another reason), only through MADV_COLLAPSE, which moves pages
 * without changing what they hold, and only on this explicit command.
 */
import { binding } from '../native/binding';
import type { Pidfd } from '../native/binding';
import { processReport } from '../account/report';
import type { ProcessReport } from '../account/schema';
import type { Reason } from '../account/reasons';
import { CliError, EXIT, UsageError, checkPretty, formatBytes, formatPercent, hex, jsonText, parseCommandArgs, parsePid } from './ui';

export const usage = `usage: hugespan collapse --pid PID [--range START-END] [--json [--pretty]]

Collapse into huge pages, now, the frames of PID that 'hugespan why' calls
collapsible-waiting (small pages in an eligible VMA, waiting for khugepaged), through
process_madvise(MADV_COLLAPSE) on a pidfd (Linux >= 6.1; needs ptrace read access to PID
and CAP_SYS_NICE, e.g. root). Frames with any other reason are left alone and counted.

  --pid PID            the process
  --range START-END    only frames inside this hex address range (e.g. 7f00000000-7f40000000)
  --json               the outcome as JSON
  --pretty             indented JSON; the default only on a terminal (piped: one compact line)`;

export interface CollapseJson {
  kind: 'collapse';
  pid: number;
  /** Frames asked for, by outcome: "collapsed", or the errno process_madvise gave. */
  frames: { start: string; outcome: string }[];
  collapsed: number;
  failed: Record<string, number>;
  /** Small-page bytes left alone, by their reason. */
  notAttempted: Partial<Record<Reason, number>>;
  coverageBefore: number;
  coverageAfter: number;
  ms: number;
}

function parseRange(text: string): [number, number] {
  const m = /^(?:0x)?([0-9a-fA-F]+)-(?:0x)?([0-9a-fA-F]+)$/.exec(text);
  const [lo, hi] = m ? [parseInt(m[1], 16), parseInt(m[2], 16)] : [NaN, NaN];
  if (!m || !Number.isSafeInteger(lo) || !Number.isSafeInteger(hi) || hi <= lo) throw new UsageError(`--range wants START-END in hex with START < END, not '${text}'`);
  return [lo, hi];
}

function coverage(r: ProcessReport): number {
  const a = r.totals.account;
  return a.anonymous ? a.pmdMapped / a.anonymous : 0;
}

/** Whole-process failures of process_madvise/pidfd_open, as the CLI says them. */
function refusal(pid: number, e: unknown): never {
  const code = (e as { code?: string }).code;
  if (code === 'EPERM' || code === 'EACCES') throw new CliError(`not permitted to advise pid ${pid}'s memory (process_madvise needs ptrace read access and CAP_SYS_NICE; try as root)`, { cause: e });
  if (code === 'ESRCH') throw new CliError(`pid ${pid} exited`, { cause: e });
  if (code === 'ENOSYS') throw new CliError('this kernel has no pidfd_open/process_madvise (Linux >= 5.10; MADV_COLLAPSE through it >= 6.1)', { cause: e });
  throw e;
}

export function collapse(pid: number, range: [number, number] | undefined): CollapseJson {
  // The pidfd first: from here on the pid names this process or none, so what is read by pid
  // below is this process's as long as the pidfd says it is alive after the reading.
  let pidfd: Pidfd;
  try {
    pidfd = binding.pidfdOpen(pid);
  } catch (e) {
    refusal(pid, e);
  }
  try {
    return collapseThrough(pid, pidfd, range);
  } finally {
    binding.pidfdClose(pidfd);
  }
}

function collapseThrough(pid: number, pidfd: Pidfd, range: [number, number] | undefined): CollapseJson {
  const before = processReport(pid, { exact: true });
  if (!binding.pidfdAlive(pidfd)) throw new CliError(`pid ${pid} exited`);
  if (before.method !== 'pagemap_scan') throw new CliError('collapse needs PAGEMAP_SCAN (Linux >= 6.7) to find collapsible frames exactly; this kernel lacks it');
  const H = before.thp.hugePageSize;
  const inRange = (start: number) => !range || (start >= range[0] && start + H <= range[1]);
  const targets: number[] = [];
  const notAttempted: Partial<Record<Reason, number>> = {};
  for (const v of before.vmas) {
    for (const f of v.frames) {
      const start = Number(f.start);
      if (f.reason === 'collapsible-waiting' && inRange(start)) targets.push(start);
      else notAttempted[f.reason] = (notAttempted[f.reason] ?? 0) + f.present;
    }
    // VMAs whose reason is VMA-wide have no frames listed when PAGEMAP_SCAN was not used on them.
    if (!v.frames.length) for (const [r, n] of Object.entries(v.account.reasons) as [Reason, number][]) notAttempted[r] = (notAttempted[r] ?? 0) + n;
  }
  const ranges = new Float64Array(targets.length * 2);
  targets.forEach((start, i) => {
    ranges[2 * i] = start;
    ranges[2 * i + 1] = H;
  });
  const t0 = process.hrtime.bigint();
  let results: (0 | string)[] = [];
  try {
    if (targets.length) results = binding.collapseIn(pidfd, ranges);
  } catch (e) {
    refusal(pid, e);
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const frames = targets.map((start, i) => ({ start: `0x${start.toString(16)}`, outcome: results[i] === 0 ? 'collapsed' : String(results[i]) }));
  const failed: Record<string, number> = {};
  for (const f of frames) if (f.outcome !== 'collapsed') failed[f.outcome] = (failed[f.outcome] ?? 0) + 1;
  const after = processReport(pid, { exact: true, seen: true });
  return { kind: 'collapse', pid, frames, collapsed: frames.length - Object.values(failed).reduce((a, b) => a + b, 0), failed, notAttempted, coverageBefore: coverage(before), coverageAfter: coverage(after), ms };
}

/**
 * What MADV_COLLAPSE's errno means for one frame (mm/khugepaged.c madvise_collapse_errno):
 * ENOMEM only for a huge page that could not be allocated; a cgroup charge failure is EBUSY.
 */
export const COLLAPSE_ERRNO: Record<string, string> = {
  EAGAIN: 'a page was busy (locked, under migration, off the LRU, or held by an extra reference such as a pin): tried twice; try again later',
  EBUSY: "the cgroup could not be charged for the huge page (at memory.max), or the VMA is registered with userfaultfd and the frame has holes, which the kernel will not fill",
  ENOMEM: 'no huge page could be allocated (memory too fragmented: compaction found no free 2 MiB block), or the frame is no longer mapped',
  EINVAL: 'the kernel refused the frame for good (not eligible any more, a KSM or uffd write-protected page, or MADV_COLLAPSE through process_madvise needs Linux >= 6.1)',
};

function render(c: CollapseJson): string {
  const lines = [
    `pid ${c.pid}: collapsed ${c.collapsed} of ${c.frames.length} collapsible frames in ${c.ms.toFixed(1)} ms; coverage ${formatPercent(c.coverageBefore)} -> ${formatPercent(c.coverageAfter)}`,
  ];
  for (const [errno, n] of Object.entries(c.failed)) lines.push(`  ${n} failed with ${errno}: ${COLLAPSE_ERRNO[errno] ?? 'see madvise(2) and process_madvise(2)'}`);
  const left = Object.entries(c.notAttempted) as [Reason, number][];
  if (left.length) {
    lines.push('left alone (not collapsible now):');
    for (const [r, n] of left.sort((a, b) => b[1] - a[1])) lines.push(`  ${r.padEnd(26)} ${formatBytes(n)}`);
  }
  for (const f of c.frames.filter((x) => x.outcome !== 'collapsed').slice(0, 10)) lines.push(`  ${hex(Number(f.start))}  ${f.outcome}`);
  return `${lines.join('\n')}\n`;
}

export async function run(argv: string[]): Promise<number> {
  const v = parseCommandArgs(argv, { pid: { type: 'string' }, range: { type: 'string' }, json: { type: 'boolean' }, pretty: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (v.help) {
    process.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  if (v.pid === undefined) throw new UsageError('collapse needs --pid PID');
  checkPretty(v.pretty, v.json);
  const pid = parsePid(v.pid);
  const range = v.range === undefined ? undefined : parseRange(v.range);
  const c = collapse(pid, range);
  process.stdout.write(v.json ? jsonText(c, v.pretty) : render(c));
  return EXIT.ok;
}
