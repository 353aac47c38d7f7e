/**
 * `hugespan report`: how much of one process (--pid), or of the whole system, is on huge pages.
 * Invariant: each reading is built once into a ProcessReport or SystemReport (the JSON schema
 * below) and every format renders that one value, so table, JSON and OpenMetrics never disagree.
 */
import { hostInfo, HostInfo } from '../native/host';
import type { Vma } from '../native/smaps';
import { readProcess, scan, holdsAnonymous, coverageRatio, summarizeProcesses, readMeminfo, readThpCounters } from './proc';
import { renderProcessTable, renderSystemTable, thpBlocked } from './report-text';
import { processMetrics, systemMetrics } from './openmetrics';
import { destination, outputTarget, repeat, OutputTarget } from './output';
import { EXIT, Palette, UsageError, parseCommandArgs, parseNumber, parsePid, formatPercent, palette } from './ui';

// --- the JSON schema (version 1). Fields may be added; none will change meaning or vanish. ---

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
}

/** `report --pid PID --json`. */
export interface ProcessReport {
  schema: 1;
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
  totals: TotalsJson;
  /** Every VMA holding anonymous memory, in address order. */
  vmas: VmaJson[];
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

/** `report --json` (no --pid). */
export interface SystemReport {
  schema: 1;
  kind: 'system';
  time: string;
  host: HostJson;
  thp: ThpJson;
  /** From /proc/meminfo: AnonPages, AnonHugePages, and their ratio. */
  memory: { anonymous: number; anonHugePages: number; coverage: number };
  /** Every thp_* counter of /proc/vmstat, by its kernel name (events since boot). */
  counters: Record<string, number>;
  /** Per-process figures come from smaps_rollup. */
  method: 'smaps_rollup';
  /** Ranked by anonymous memory, largest first: the top 10, or all with --all. */
  processes: ProcessSummaryJson[];
  /** Processes read (kernel threads and zombies have no memory and are not counted). */
  readable: number;
  /** Processes we may not read (their smaps needs ptrace read access). */
  unreadable: number;
}

// --- building a reading ---

export function hostJson(h: HostInfo): HostJson {
  return { kernel: h.kernel, arch: h.arch, pageSize: h.pageSize, pagemapScan: h.pagemapScan };
}

export function thpJson(h: HostInfo): ThpJson {
  return {
    enabled: h.thp.enabled ?? null,
    defrag: h.thp.defrag ?? null,
    hugePageSize: h.hugePageSize,
    maxPtesNone: h.thp.khugepaged.max_ptes_none ?? null,
    khugepaged: h.thp.khugepaged,
    sizes: h.thp.sizes,
  };
}

function hexAddress(n: number): string {
  return `0x${n.toString(16)}`;
}

function vmaJson(v: Vma, huge: number): VmaJson {
  return {
    start: hexAddress(v.start),
    end: hexAddress(v.end),
    size: v.size,
    perms: v.perms,
    path: v.path,
    rss: v.rss,
    anonymous: v.anonymous,
    anonHugePages: huge,
    coverage: coverageRatio(huge, v.anonymous),
    thpEligible: v.thpEligible ?? null,
    vmFlags: v.vmFlags,
    eligibleNotHuge: v.thpEligible ? Math.max(0, v.anonymous - huge) : 0,
  };
}

function sum(vmas: VmaJson[], field: 'anonymous' | 'anonHugePages' | 'eligibleNotHuge'): number {
  return vmas.reduce((n, v) => n + v[field], 0);
}

export function processReport(pid: number, options: { exact: boolean; seen?: boolean }): ProcessReport {
  const host = hostInfo();
  const p = readProcess(pid, options.seen);
  const method = options.exact && host.pagemapScan ? 'pagemap_scan' : 'smaps';
  const vmas = p.vmas.filter(holdsAnonymous).map((v) =>
    // PAGEMAP_SCAN's "huge" covers file THP too, so it measures only anonymous mappings (no
    // inode); a file mapping's copied-on-write pages keep smaps' per-VMA count, exact as well.
    vmaJson(v, method === 'pagemap_scan' && v.inode === 0 ? scan(pid, v.start, v.end, [v]).hugeBytes : v.anonHugePages),
  );
  const anonymous = sum(vmas, 'anonymous');
  const anonHugePages = sum(vmas, 'anonHugePages');
  return {
    schema: 1,
    kind: 'process',
    time: new Date().toISOString(),
    pid,
    comm: p.comm,
    host: hostJson(host),
    thp: thpJson(host),
    thpDisabled: p.thpDisabled ?? null,
    method,
    totals: {
      rss: p.vmas.reduce((n, v) => n + v.rss, 0),
      anonymous,
      anonHugePages,
      coverage: coverageRatio(anonHugePages, anonymous),
      eligibleNotHuge: sum(vmas, 'eligibleNotHuge'),
      noHugePage: vmas.filter((v) => v.vmFlags.includes('nh')).reduce((n, v) => n + v.anonymous, 0),
    },
    vmas,
  };
}

/** How many processes the system report ranks without --all. */
const TOP_PROCESSES = 10;

export function systemReport(options: { all: boolean }): SystemReport {
  const host = hostInfo();
  const mem = readMeminfo();
  const { processes, unreadable } = summarizeProcesses();
  const ranked = processes.sort((a, b) => b.anonymous - a.anonymous || a.pid - b.pid);
  const anonymous = mem.AnonPages ?? 0;
  const anonHugePages = mem.AnonHugePages ?? 0;
  return {
    schema: 1,
    kind: 'system',
    time: new Date().toISOString(),
    host: hostJson(host),
    thp: thpJson(host),
    memory: { anonymous, anonHugePages, coverage: coverageRatio(anonHugePages, anonymous) },
    counters: readThpCounters(),
    method: 'smaps_rollup',
    processes: (options.all ? ranked : ranked.slice(0, TOP_PROCESSES)).map((p) => ({
      pid: p.pid,
      comm: p.comm,
      rss: p.rss,
      anonymous: p.anonymous,
      anonHugePages: p.anonHugePages,
      coverage: coverageRatio(p.anonHugePages, p.anonymous),
      thpDisabled: p.thpDisabled ?? null,
    })),
    readable: processes.length,
    unreadable,
  };
}

// --- the gate ---

/**
 * Why a report's coverage is no measurement, or undefined when it is one: huge pages were
 * impossible (no THP in the kernel, enabled=never, prctl for the process), or there was no
 * anonymous memory to be on them. A 0% there is not "below" anything, nor at or above it.
 */
export function unmeasurable(r: ProcessReport | SystemReport): string | undefined {
  if (r.kind === 'process') {
    const blocked = thpBlocked(r.thp, r.thpDisabled);
    if (blocked) return blocked;
    if (r.totals.anonymous === 0) return `pid ${r.pid} has no anonymous memory, so nothing that could be on huge pages`;
    return undefined;
  }
  const blocked = thpBlocked(r.thp, null);
  if (blocked) return blocked;
  if (r.memory.anonymous === 0) return 'the system has no anonymous memory (meminfo AnonPages 0)';
  return undefined;
}

export type UnmeasurablePolicy = 'pass' | 'fail';

/**
 * --min-coverage's answer for a report: the exit code and the line for stderr (none when it
 * passes). Without `policy` an unmeasurable coverage is neither pass nor fail: exit 4.
 */
export function gate(r: ProcessReport | SystemReport, min: number, policy?: UnmeasurablePolicy): { exit: number; line?: string } {
  const why = unmeasurable(r);
  if (why !== undefined) {
    if (policy === 'pass') return { exit: EXIT.ok };
    if (policy === 'fail') return { exit: EXIT.belowMinCoverage, line: `no coverage to judge (${why}); --unmeasurable fail counts that as below --min-coverage ${formatPercent(min)}` };
    return { exit: EXIT.unmeasurable, line: `--min-coverage cannot judge: ${why} (--unmeasurable pass|fail decides)` };
  }
  const coverage = r.kind === 'process' ? r.totals.coverage : r.memory.coverage;
  if (coverage < min) return { exit: EXIT.belowMinCoverage, line: `coverage ${formatPercent(coverage)} is below --min-coverage ${formatPercent(min)}` };
  return { exit: EXIT.ok };
}

// --- the command ---

export const usage = `usage: hugespan report [--pid PID] [--all] [--json | --format table|json|openmetrics]
                       [--watch SECONDS] [--min-coverage R [--unmeasurable pass|fail]]
                       [--output FILE] [--exact | --no-exact]

How much memory is on transparent huge pages: one process (--pid), or the whole system.

  --pid PID          one process (decimal, below the host's pid_max): its THP status, totals,
                     and its anonymous VMAs by size
  --all              every VMA (with --pid) or every readable process (without), not the top ones
  --json             the same as --format json (schema 1, see the README)
  --format F         table (default), json, or openmetrics (Prometheus text exposition)
  --watch SECONDS    report again every SECONDS until interrupted (Ctrl-C); with openmetrics
                     only into an --output file, which is rewritten whole each time
  --min-coverage R   exit 3 when coverage (0..1) is below R, for CI gates; exit 4 when there is
                     no coverage to judge: THP impossible for the process (prctl), host
                     (enabled=never) or kernel, or no anonymous memory
  --unmeasurable A   with --min-coverage: count "no coverage to judge" as pass (exit 0) or
                     fail (exit 3) instead of exit 4
  --output FILE      write FILE instead of stdout: a regular file is replaced atomically (temp
                     file + rename), a device or FIFO is written directly; a directory or
                     anything else is refused (exit 2); '-' is stdout
  --exact            huge bytes per VMA from PAGEMAP_SCAN, exact to the page (default; Linux >= 6.7)
  --no-exact         huge bytes from smaps AnonHugePages per VMA only`;

const FORMATS = ['table', 'json', 'openmetrics'] as const;
type Format = (typeof FORMATS)[number];

interface ReportArgs {
  pid?: number;
  all: boolean;
  format: Format;
  watch?: number;
  /** Hidden: stop after this many frames (tests). */
  count?: number;
  minCoverage?: number;
  unmeasurable?: UnmeasurablePolicy;
  /** Where --output points, judged before anything is read; undefined: standard output ('-' too). */
  output?: OutputTarget;
  exact: boolean;
  help: boolean;
}

function parseReportArgs(argv: string[]): ReportArgs {
  const v = parseCommandArgs(argv, {
    pid: { type: 'string' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
    format: { type: 'string' },
    watch: { type: 'string' },
    count: { type: 'string' },
    'min-coverage': { type: 'string' },
    unmeasurable: { type: 'string' },
    output: { type: 'string' },
    exact: { type: 'boolean' },
    'no-exact': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return { all: false, format: 'table', exact: true, help: true };
  const format = (v.format ?? (v.json ? 'json' : 'table')) as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`--format wants table, json or openmetrics, not '${v.format}'`);
  if (v.json && format !== 'json') throw new UsageError(`--json and --format ${format} disagree; give one of them`);
  if (v.exact && v['no-exact']) throw new UsageError('--exact and --no-exact disagree; give one of them');
  const policy = v.unmeasurable;
  if (policy !== undefined && policy !== 'pass' && policy !== 'fail') throw new UsageError(`--unmeasurable wants pass or fail, not '${policy}'`);
  if (policy !== undefined && v['min-coverage'] === undefined) throw new UsageError('--unmeasurable only means something with --min-coverage');
  const args: ReportArgs = {
    pid: v.pid === undefined ? undefined : parsePid(v.pid),
    all: v.all ?? false,
    format,
    watch: v.watch === undefined ? undefined : parseNumber(v.watch, '--watch', { min: 0.1 }),
    count: v.count === undefined ? undefined : parseNumber(v.count, '--count', { min: 1, integer: true }),
    minCoverage: v['min-coverage'] === undefined ? undefined : parseNumber(v['min-coverage'], '--min-coverage', { min: 0, max: 1 }),
    unmeasurable: policy,
    // '-' is standard output, as everywhere on Unix; anything else is judged now, before any reading.
    output: v.output === undefined || v.output === '-' ? undefined : outputTarget(v.output),
    exact: !v['no-exact'],
    help: false,
  };
  // One stream of several '# EOF'-terminated documents is valid to no scraper; a file
  // rewritten whole each time is one document whenever it is read.
  if (args.format === 'openmetrics' && args.watch !== undefined && args.output?.kind !== 'file') {
    const where = args.output ? `${v.output} (a device or FIFO)` : 'standard output';
    throw new UsageError(`--watch with --format openmetrics needs --output FILE, rewritten whole each time: back-to-back documents on ${where} are not valid OpenMetrics`);
  }
  return args;
}

export async function run(argv: string[]): Promise<number> {
  const args = parseReportArgs(argv);
  if (args.help) {
    process.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  const out = destination({ output: args.output, watching: args.watch !== undefined });
  const paint = palette(out.colour);
  let seen = false;
  const last = await repeat(args.watch, args.count, () => {
    const report = args.pid === undefined ? systemReport({ all: args.all }) : processReport(args.pid, { exact: args.exact, seen });
    seen = true;
    out.write(render(report, args, { compact: out.appending, paint, width: out.width }));
    return report;
  });
  if (args.minCoverage === undefined) return EXIT.ok;
  const verdict = gate(last, args.minCoverage, args.unmeasurable);
  if (verdict.line) process.stderr.write(`hugespan: ${verdict.line}\n`);
  return verdict.exit;
}

function render(r: ProcessReport | SystemReport, args: ReportArgs, style: { compact: boolean; paint: Palette; width: number }): string {
  switch (args.format) {
    case 'json':
      return `${JSON.stringify(r, null, style.compact ? undefined : 2)}\n`;
    case 'openmetrics':
      return r.kind === 'process' ? processMetrics(r) : systemMetrics(r);
    case 'table':
      return r.kind === 'process' ? renderProcessTable(r, { all: args.all, paint: style.paint }) : renderSystemTable(r, { paint: style.paint, width: style.width });
  }
}
