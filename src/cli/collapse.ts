/**
 * `hugespan collapse --pid PID [--range START-END]`: collapse now, into huge pages, the frames
 * the accounting calls collapsible (by khugepaged later, or by MADV_COLLAPSE only: see
 * COLLAPSE_ON_REQUEST), after printing what it will cost (src/account/collapse-plan.ts), and
 * say per frame what happened. Invariant: only
 * frames the plan marks `collapse` are touched (never an `nh` VMA, never a frame with another
 * reason, never past --max-growth), only through MADV_COLLAPSE, which moves pages without
 * changing what they hold, only on this explicit command, and never with --dry-run.
 */
import { binding } from '../native/binding';
import type { Pidfd } from '../native/binding';
import { processReport } from '../account/report';
import { planCollapse } from '../account/collapse-plan';
import type { CollapsePlan } from '../account/collapse-plan';
import { SCHEMA } from '../account/schema';
import type { ProcessReport } from '../account/schema';
import type { Reason } from '../account/reasons';
import { CliError, EXIT, UsageError, checkPretty, formatBytes, formatPercent, hex, jsonText, parseBytes, parseCommandArgs, parsePid, renderTable } from './ui';

/**
 * --max-growth without a value: 64 MiB of memory. A frame khugepaged is waiting on is mostly
 * present (511 of 512 pages at worst costs 4 KiB), so 64 MiB lets some 16 000 such frames
 * through, 32 GiB of memory; a sparse frame costs up to 2 MiB, so it stops the surprise of the
 * one-page-per-frame case at 32 frames. Larger collapses are a choice: give the bound.
 */
export const DEFAULT_MAX_GROWTH = 64 * 1024 * 1024;

export const usage = `usage: hugespan collapse --pid PID [--range START-END] [--max-growth SIZE] [--dry-run]
                         [--json [--pretty]]

Collapse into huge pages, now, the frames of PID that 'hugespan why' calls
collapsible-waiting (small pages in an eligible VMA, waiting for khugepaged), and those
khugepaged refuses and MADV_COLLAPSE takes (too-few-present, too-many-swapped, pages shared
with another process), through
process_madvise(MADV_COLLAPSE) on a pidfd (Linux >= 6.1; needs ptrace read access to PID
and CAP_SYS_NICE, e.g. root). Frames with any other reason are left alone and counted.

First it prints the plan: per frame and in total the pages present, the huge pages it
allocates, how much PID's RSS grows (a huge page less what was resident), how much the
machine's memory grows (a huge page less the pages that were PID's alone), the pages it
unshares from another process (a fork's copy-on-write pages, which that process keeps),
the swapped pages it reads back, and the frames it skips and why. The cheapest frames are
taken first while the memory growth stays within --max-growth.

  --pid PID            the process
  --range START-END    only frames inside this hex address range (e.g. 7f00000000-7f40000000)
  --max-growth SIZE    grow memory by at most SIZE (e.g. 512M, 2G; default 64M: a mostly
                       present frame costs KiBs, a one-page frame 2 MiB)
  --dry-run            print the plan and do nothing
  --json               the plan and the outcome as JSON
  --pretty             indented JSON; the default only on a terminal (piped: one compact line)`;

export interface CollapseJson {
  schema: typeof SCHEMA;
  kind: 'collapse';
  pid: number;
  /** --dry-run: the plan only; frames is empty and coverageAfter is coverageBefore. */
  dryRun: boolean;
  plan: CollapsePlan;
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

export interface CollapseOptions {
  range?: [number, number];
  maxGrowth: number;
  dryRun: boolean;
}

export function collapse(pid: number, options: CollapseOptions): CollapseJson {
  // The pidfd first: from here on the pid names this process or none, so what is read by pid
  // below is this process's as long as the pidfd says it is alive after the reading.
  let pidfd: Pidfd;
  try {
    pidfd = binding.pidfdOpen(pid);
  } catch (e) {
    refusal(pid, e);
  }
  try {
    return collapseThrough(pid, pidfd, options);
  } finally {
    binding.pidfdClose(pidfd);
  }
}

function collapseThrough(pid: number, pidfd: Pidfd, options: CollapseOptions): CollapseJson {
  const before = processReport(pid, { exact: true });
  if (before.method !== 'pagemap_scan') throw new CliError('collapse needs PAGEMAP_SCAN (Linux >= 6.7) to find collapsible frames exactly; this kernel lacks it');
  const plan = planCollapse(pid, before, { maxGrowth: options.maxGrowth, range: options.range });
  if (!binding.pidfdAlive(pidfd)) throw new CliError(`pid ${pid} exited`);
  const notAttempted: Partial<Record<Reason, number>> = {};
  for (const f of plan.frames) if (f.action === 'skip') notAttempted[f.reason] = (notAttempted[f.reason] ?? 0) + f.present * plan.pageSize;
  for (const v of before.vmas) {
    // VMAs whose reason is VMA-wide have no frames listed when PAGEMAP_SCAN was not used on them.
    if (!v.frames.length) for (const [r, n] of Object.entries(v.account.reasons) as [Reason, number][]) notAttempted[r] = (notAttempted[r] ?? 0) + n;
  }
  const H = plan.hugePage;
  const targets = options.dryRun ? [] : plan.frames.filter((f) => f.action === 'collapse').map((f) => Number(f.start));
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
  const after = options.dryRun ? before : processReport(pid, { exact: true, seen: true });
  return {
    schema: SCHEMA,
    kind: 'collapse',
    pid,
    dryRun: options.dryRun,
    plan,
    frames,
    collapsed: frames.length - Object.values(failed).reduce((a, b) => a + b, 0),
    failed,
    notAttempted,
    coverageBefore: coverage(before),
    coverageAfter: coverage(after),
    ms,
  };
}

/**
 * What MADV_COLLAPSE's errno means for one frame (mm/khugepaged.c madvise_collapse_errno):
 * ENOMEM only for a huge page that could not be allocated; a cgroup charge failure is EBUSY.
 */
export const COLLAPSE_ERRNO: Record<string, string> = {
  EAGAIN: 'a page was busy (locked, under migration, off the LRU, or held by an extra reference such as a pin): tried twice; try again later',
  EBUSY: "the cgroup could not be charged for the huge page (at its limit: memory.max, v1 memory.limit_in_bytes), or the VMA is registered with userfaultfd and the frame has holes, which the kernel will not fill",
  ENOMEM: 'no huge page could be allocated (memory too fragmented: compaction found no free 2 MiB block), or the frame is no longer mapped',
  EINVAL: 'the kernel refused the frame for good (not eligible any more, a KSM or uffd write-protected page, or MADV_COLLAPSE through process_madvise needs Linux >= 6.1)',
};

/** Frames the plan lists one by one in the table; JSON has all of them. */
const PLAN_ROWS = 20;

function renderPlan(c: CollapseJson): string[] {
  const p = c.plan;
  const t = p.totals;
  const kib = (pages: number) => formatBytes(pages * p.pageSize);
  const lines = [`plan for pid ${c.pid}: collapse ${t.collapse} of ${t.frames} frames with small pages, within --max-growth ${formatBytes(p.maxGrowth)}`];
  const shown = p.frames.filter((f) => f.action === 'collapse' || f.skip === 'over-max-growth' || f.skip === 'uffd-write-protected');
  const rows = shown.slice(0, PLAN_ROWS).map((f) => [
    hex(Number(f.start)),
    kib(f.present),
    kib(f.swapped),
    kib(f.shared),
    formatBytes(f.rssGrowth),
    formatBytes(f.memoryGrowth),
    f.action === 'collapse' ? 'collapse' : `skip: ${f.skip}`,
  ]);
  if (rows.length) {
    lines.push(
      renderTable(
        [{ title: 'frame' }, { title: 'present', align: 'right' }, { title: 'swapped', align: 'right' }, { title: 'unshares', align: 'right' }, { title: 'rss +', align: 'right' }, { title: 'memory +', align: 'right' }, { title: 'action' }],
        rows,
        { header: (x) => x, indent: 2 },
      ),
    );
  }
  if (shown.length > rows.length) lines.push(`  … ${shown.length - rows.length} more frames (--json lists them all)`);
  lines.push(
    `  total: ${t.collapse} huge pages allocated (${formatBytes(t.allocate)}) over ${kib(t.present)} present; RSS grows ${formatBytes(t.rssGrowth)}, memory grows ${formatBytes(t.memoryGrowth)}; unshares ${kib(t.shared)} (${t.shared} pages) from another process; reads back ${kib(t.swapped)} from swap`,
  );
  const skipped = Object.entries(t.skipped).sort((a, b) => b[1] - a[1]);
  if (skipped.length) lines.push(`  skipped: ${skipped.map(([why, n]) => `${n} ${why}`).join(', ')}`);
  return lines;
}

function render(c: CollapseJson): string {
  const lines = renderPlan(c);
  if (c.dryRun) {
    lines.push('--dry-run: nothing was collapsed');
    return `${lines.join('\n')}\n`;
  }
  lines.push(`pid ${c.pid}: collapsed ${c.collapsed} of ${c.frames.length} planned frames in ${c.ms.toFixed(1)} ms; coverage ${formatPercent(c.coverageBefore)} -> ${formatPercent(c.coverageAfter)}`);
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
  const v = parseCommandArgs(argv, { pid: { type: 'string' }, range: { type: 'string' }, 'max-growth': { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, pretty: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (v.help) {
    process.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  if (v.pid === undefined) throw new UsageError('collapse needs --pid PID');
  checkPretty(v.pretty, v.json);
  const pid = parsePid(v.pid);
  const range = v.range === undefined ? undefined : parseRange(v.range);
  const maxGrowth = v['max-growth'] === undefined ? DEFAULT_MAX_GROWTH : parseBytes(v['max-growth'], '--max-growth');
  const c = collapse(pid, { range, maxGrowth, dryRun: v['dry-run'] ?? false });
  process.stdout.write(v.json ? jsonText(c, v.pretty) : render(c));
  return EXIT.ok;
}
