/**
 * `hugespan report`: how much of one process (--pid), or of the whole system, is on huge pages.
 * Invariant: each reading is built once, by the accounting layer (src/account), into a
 * ProcessReport or SystemReport, and every format renders that one value, so table, JSON and
 * OpenMetrics never disagree.
 */
import { cgroupReport, processReport, streamProcessReport, systemReport } from '../account/report';
import { jsonSafe, printable } from './printable';
import type { ProcessReportHead } from '../account/report';
import type { CgroupReport, OwnersJson, ProcessReport, SystemReport, TotalsJson, VmaJson } from '../account/schema';
import { SCHEMA } from '../account/schema';
import { renderCgroupTable, renderProcessTable, renderSystemTable, thpBlocked } from './report-text';
import { bloat, DEFAULT_BLOAT_BUDGET } from '../account/bloat';
import { renderBloat } from './bloat-text';
import { GROUP_BY } from './metrics';
import type { GroupBy } from './metrics';
import { destination, outputTarget, repeat, OutputTarget, Writer } from './output';
import { EXIT, Palette, UsageError, foldLines, parseBytes, parseCommandArgs, parseNumber, parsePid, formatPercent, palette } from './ui';

// --- the gate ---

/**
 * Why a report's coverage is no measurement, or undefined when it is one: huge pages were
 * impossible (no THP in the kernel, enabled=never, prctl for the process), or there was no
 * anonymous memory to be on them. A 0% there is not "below" anything, nor at or above it.
 */
export function unmeasurable(r: ProcessReport | SystemReport | CgroupReport): string | undefined {
  if (r.kind === 'cgroup') {
    const blocked = thpBlocked(r.thp, null);
    if (blocked) return blocked;
    if (r.anonymous === 0) return `cgroup ${printable(r.path)} has no anonymous memory charged to it`;
    return undefined;
  }
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
export function gate(r: ProcessReport | SystemReport | CgroupReport, min: number, policy?: UnmeasurablePolicy): { exit: number; line?: string } {
  const why = unmeasurable(r);
  if (why !== undefined) {
    if (policy === 'pass') return { exit: EXIT.ok };
    if (policy === 'fail') return { exit: EXIT.belowMinCoverage, line: `no coverage to judge (${why}); --unmeasurable fail counts that as below --min-coverage ${formatPercent(min)}` };
    return { exit: EXIT.unmeasurable, line: `--min-coverage cannot judge: ${why} (--unmeasurable pass|fail decides)` };
  }
  const coverage = r.kind === 'process' ? r.totals.coverage : r.kind === 'cgroup' ? r.coverage : r.memory.coverage;
  if (coverage < min) return { exit: EXIT.belowMinCoverage, line: `coverage ${formatPercent(coverage)} is below --min-coverage ${formatPercent(min)}` };
  return { exit: EXIT.ok };
}

// --- the command ---

export const usage = `usage: hugespan report [--pid PID | --cgroup PATH] [--all] [--json | --format table|json|openmetrics|prometheus] [--pretty]
                       [--watch SECONDS [--count N]] [--min-coverage R [--unmeasurable pass|fail]]
                       [--output FILE] [--exact | --no-exact] [--group-by comm|exe|cgroup] [--bloat [--bloat-budget SIZE]]

How much memory is on transparent huge pages: one process (--pid), or the whole system.

  --pid PID          one process (decimal, below the host's pid_max): its THP status, totals,
                     and its anonymous VMAs by size
  --cgroup PATH      one memory cgroup (its directory; v2 or v1): its THP from memory.stat,
                     and its processes (table or json)
  --all              every VMA (with --pid) or every readable process (without), not the top ones
  --json             the same as --format json (schema ${SCHEMA}, see the README)
  --format F         table (default), json, openmetrics, or prometheus (the text format 0.0.4,
                     what node_exporter's textfile collector reads); both metric formats name
                     every fact as \`hugespan serve\` does, and the host view has no pid label
  --group-by KEY     with openmetrics/prometheus and no --pid: every readable process summed
                     per comm, exe or cgroup (no pid label, so series survive restarts)
  --pretty           indented JSON; the default only on a terminal (piped or --output: one
                     compact line, which is 1.5-2x faster to write for a large process)
  --watch SECONDS    report again every SECONDS until interrupted (Ctrl-C); with openmetrics
                     only into an --output file, which is rewritten whole each time; the
                     system table then shows its vmstat counters per second (JSON: totals);
                     on a terminal each frame is cut to its height, headline first
  --count N          with --watch: stop after N frames
  --min-coverage R   exit 3 when coverage (0..1) is below R, for CI gates; exit 4 when there is
                     no coverage to judge: THP impossible for the process (prctl), host
                     (enabled=never) or kernel, or no anonymous memory
  --unmeasurable A   with --min-coverage: count "no coverage to judge" as pass (exit 0) or
                     fail (exit 3) instead of exit 4
  --output FILE      write FILE instead of stdout: a regular file is replaced atomically (temp
                     file + rename), a device or FIFO is written directly; a directory or
                     anything else is refused (exit 2); '-' is stdout
  --exact            huge bytes per VMA from PAGEMAP_SCAN, exact to the page (default; Linux >= 6.7)
  --no-exact         huge bytes from smaps AnonHugePages per VMA only
  --bloat            with --pid: read its PMD-mapped THPs (process_vm_readv: needs ptrace read
                     access) and count the 4 KiB subpages that hold only zeros, per VMA and by
                     origin (JSON: bloat); read-only
  --bloat-budget S   read at most S bytes for --bloat (default 1G); THPs past it are counted unread`;

const FORMATS = ['table', 'json', 'openmetrics', 'prometheus'] as const;
type Format = (typeof FORMATS)[number];

interface ReportArgs {
  pid?: number;
  cgroup?: string;
  all: boolean;
  format: Format;
  /** Indented JSON (--pretty); otherwise only for a person at a terminal. */
  pretty: boolean;
  watch?: number;
  /** With --watch: stop after this many frames. */
  count?: number;
  minCoverage?: number;
  unmeasurable?: UnmeasurablePolicy;
  /** Where --output points, judged before anything is read; undefined: standard output ('-' too). */
  output?: OutputTarget;
  exact: boolean;
  /** --bloat: the byte budget of the zero-subpage read; undefined without --bloat. */
  bloat?: number;
  groupBy?: GroupBy;
  help: boolean;
}

function parseReportArgs(argv: string[]): ReportArgs {
  const v = parseCommandArgs(argv, {
    pid: { type: 'string' },
    cgroup: { type: 'string' },
    all: { type: 'boolean' },
    json: { type: 'boolean' },
    pretty: { type: 'boolean' },
    format: { type: 'string' },
    watch: { type: 'string' },
    count: { type: 'string' },
    'min-coverage': { type: 'string' },
    unmeasurable: { type: 'string' },
    output: { type: 'string' },
    exact: { type: 'boolean' },
    'no-exact': { type: 'boolean' },
    bloat: { type: 'boolean' },
    'bloat-budget': { type: 'string' },
    'group-by': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return { all: false, format: 'table', pretty: false, exact: true, help: true };
  const format = (v.format ?? (v.json ? 'json' : 'table')) as Format;
  if (!FORMATS.includes(format)) throw new UsageError(`--format wants table, json, openmetrics or prometheus, not '${v.format}'`);
  const metrics = format === 'openmetrics' || format === 'prometheus';
  const groupBy = v['group-by'];
  if (groupBy !== undefined && !(GROUP_BY as readonly string[]).includes(groupBy)) throw new UsageError(`--group-by wants comm, exe or cgroup, not '${groupBy}'`);
  if (groupBy !== undefined && (!metrics || v.pid !== undefined || v.cgroup !== undefined)) throw new UsageError('--group-by groups the host view\'s processes in --format openmetrics or prometheus (not with --pid or --cgroup)');
  if (v.json && format !== 'json') throw new UsageError(`--json and --format ${format} disagree; give one of them`);
  if (v.pretty && format !== 'json') throw new UsageError(`--pretty only means something with --json, not --format ${format}`);
  if (v.exact && v['no-exact']) throw new UsageError('--exact and --no-exact disagree; give one of them');
  const policy = v.unmeasurable;
  if (policy !== undefined && policy !== 'pass' && policy !== 'fail') throw new UsageError(`--unmeasurable wants pass or fail, not '${policy}'`);
  if (policy !== undefined && v['min-coverage'] === undefined) throw new UsageError('--unmeasurable only means something with --min-coverage');
  if (v.pid !== undefined && v.cgroup !== undefined) throw new UsageError('--pid and --cgroup each choose what to report; give one of them');
  if (v.cgroup !== undefined && metrics) throw new UsageError("--cgroup reports as a table or JSON; for Prometheus, 'hugespan serve' exports processes");
  if (v.count !== undefined && v.watch === undefined) throw new UsageError('--count only means something with --watch (it counts the frames)');
  if (v.cgroup === '') throw new UsageError('--cgroup wants the cgroup directory, e.g. /sys/fs/cgroup/system.slice/foo.service');
  if (v['bloat-budget'] !== undefined && !v.bloat) throw new UsageError('--bloat-budget only means something with --bloat');
  if (v.bloat && (v.pid === undefined || metrics)) throw new UsageError('--bloat reads one process: give --pid, as a table or JSON');
  const args: ReportArgs = {
    pid: v.pid === undefined ? undefined : parsePid(v.pid),
    cgroup: v.cgroup,
    all: v.all ?? false,
    format,
    pretty: v.pretty ?? false,
    watch: v.watch === undefined ? undefined : parseNumber(v.watch, '--watch', { min: 0.1 }),
    count: v.count === undefined ? undefined : parseNumber(v.count, '--count', { min: 1, integer: true }),
    minCoverage: v['min-coverage'] === undefined ? undefined : parseNumber(v['min-coverage'], '--min-coverage', { min: 0, max: 1 }),
    unmeasurable: policy,
    // '-' is standard output, as everywhere on Unix; anything else is judged now, before any reading.
    output: v.output === undefined || v.output === '-' ? undefined : outputTarget(v.output),
    exact: !v['no-exact'],
    bloat: v.bloat ? (v['bloat-budget'] === undefined ? DEFAULT_BLOAT_BUDGET : parseBytes(v['bloat-budget'], '--bloat-budget')) : undefined,
    groupBy: groupBy as GroupBy | undefined,
    help: false,
  };
  // One stream of several '# EOF'-terminated documents is valid to no scraper; a file
  // rewritten whole each time is one document whenever it is read.
  if (metrics && args.watch !== undefined && args.output?.kind !== 'file') {
    const where = args.output ? `${v.output} (a device or FIFO)` : 'standard output';
    throw new UsageError(`--watch with --format ${format} needs --output FILE, rewritten whole each time: back-to-back documents on ${where} are not ${format === 'openmetrics' ? 'valid OpenMetrics' : 'one document a scraper reads'}`);
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
  // The frame before, for --watch's counter rates in the system table.
  let previous: SystemReport | undefined;
  // Compact unless a person reads it: a 60 000-VMA report indented took 1.5-2x as long to
  // stringify as on one line, and programs (jq, a pipe, a file) do not need the spaces.
  const compact = !args.pretty && (out.appending || !out.tty);
  const last = await repeat(args.watch, args.count, () => {
    if (args.pid !== undefined && args.cgroup === undefined && args.format === 'json' && args.bloat === undefined) {
      // Written as it is measured, VMA by VMA: memory stays bounded however many VMAs.
      const r = streamProcessJson(args.pid, { exact: args.exact, seen }, compact, out.writer());
      seen = true;
      return r;
    }
    const report =
      args.cgroup !== undefined ? cgroupReport(args.cgroup) : args.pid === undefined ? systemReport({ all: args.all || args.groupBy !== undefined }) : processReport(args.pid, { exact: args.exact, seen });
    seen = true;
    if (report.kind === 'process' && args.bloat !== undefined) report.bloat = bloat(report.pid, report.vmas, report.thp.hugePageSize, args.bloat);
    out.write(render(report, args, { compact, paint, width: out.width, fold: out.fold, previous }));
    if (report.kind === 'system') previous = report;
    return report;
  });
  if (args.minCoverage === undefined) return EXIT.ok;
  const verdict = gate(last, args.minCoverage, args.unmeasurable);
  if (verdict.line) process.stderr.write(`hugespan: ${verdict.line}\n`);
  return verdict.exit;
}

/** Pieces of this size go to the writer: few writes, and never the whole report in memory. */
const CHUNK = 1 << 20;

/**
 * A process report as JSON, written VMA by VMA: exactly the text JSON.stringify gives for the
 * whole value (one line, or indented by 2), while holding one VMA and one chunk. Each VMA's text
 * is encoded into the chunk's bytes within 64 KiB, so it dies young (strings accumulated up to
 * a 1 MiB write lived through collections: a third of the time went to the garbage collector).
 * (A hand-written serializer was 1.6x faster on retained VMAs, but in the stream its garbage
 * grew V8's young generation: peak RSS 75 -> 91 MiB at 60 000 VMAs, past 2x the smaps text.)
 * Feed it the head, each VMA, then end() with the totals.
 */
export function processJsonWriter(compact: boolean, w: Writer): { head(h: ProcessReportHead): void; vma(v: VmaJson): void; end(totals: TotalsJson, owners?: OwnersJson): void } {
  let chunk = Buffer.allocUnsafe(CHUNK);
  let used = 0;
  // Text is gathered into a short string first (one flattening and one encoding per 64 KiB,
  // not per VMA), then encoded into the chunk, which goes out when full.
  let text = '';
  const encode = (): void => {
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (text.length * 3 > CHUNK - used) flush();
    if (text.length * 3 > CHUNK) w.write(text);
    else used += chunk.write(text, used, 'utf8');
    text = '';
  };
  const flush = (): void => {
    if (used) w.write(chunk.subarray(0, used));
    used = 0;
  };
  const put = (more: string): void => {
    text += jsonSafe(more);
    if (text.length >= 1 << 16) encode();
  };
  let first = true;
  // Compact VMAs are stringified 64 at a time, as one array, the brackets cut off: 12-15 % off
  // a 60 000-VMA report against one call a VMA (fewer calls and pieces); 1 024 at a time held
  // more than it saved.
  const HELD = 64;
  let held: VmaJson[] = [];
  const release = (): void => {
    if (!held.length) return;
    const text = JSON.stringify(held);
    put(`${first ? '' : ','}${text.slice(1, -1)}`);
    first = false;
    held = [];
  };
  return {
    head(h) {
      // The head's text without its closing brace, then the array opens.
      put(compact ? `${JSON.stringify(h).slice(0, -1)},"vmas":[` : `${JSON.stringify(h, null, 2).slice(0, -2)},\n  "vmas": [`);
    },
    vma(v) {
      if (compact) {
        held.push(v);
        if (held.length === HELD) release();
        return;
      }
      put(`${first ? '' : ','}\n    ${JSON.stringify(v, null, 2).replace(/\n/g, '\n    ')}`);
      first = false;
    },
    end(totals, owners) {
      release();
      // owners (added in schema 2) after the totals, as processReport's object has them.
      const tail = owners ? (compact ? `,"owners":${JSON.stringify(owners)}` : `,\n  "owners": ${JSON.stringify(owners, null, 2).replace(/\n/g, '\n  ')}`) : '';
      put(compact ? `],"totals":${JSON.stringify(totals)}${tail}}\n` : `${first ? '' : '\n  '}],\n  "totals": ${JSON.stringify(totals, null, 2).replace(/\n/g, '\n  ')}${tail}\n}\n`);
      encode();
      flush();
      chunk = Buffer.alloc(0);
      w.end();
    },
  };
}

/** `report --pid --json`: measured and written VMA by VMA. Returns the report without its VMAs (what the gate reads). */
function streamProcessJson(pid: number, options: { exact: boolean; seen?: boolean }, compact: boolean, w: Writer): ProcessReport {
  const json = processJsonWriter(compact, w);
  let head: ProcessReportHead | undefined;
  let owners: OwnersJson | undefined;
  try {
    const totals = streamProcessReport(pid, options, {
      head(h) {
        head = h;
        json.head(h);
      },
      vma: (v) => json.vma(v),
      owners: (o) => (owners = o),
    });
    json.end(totals, owners);
    return { ...head!, vmas: [], totals, ...(owners ? { owners } : {}) };
  } catch (e) {
    w.abort?.();
    throw e;
  }
}

/** `style.previous`: the system report of the frame before, whose counters the table turns into rates. */
function render(r: ProcessReport | SystemReport | CgroupReport, args: ReportArgs, style: { compact: boolean; paint: Palette; width: number; fold?: number; previous?: SystemReport }): string {
  if (r.kind === 'cgroup') return args.format === 'json' ? `${jsonSafe(JSON.stringify(r, null, style.compact ? undefined : 2))}\n` : foldLines(renderCgroupTable(r, { paint: style.paint, fold: style.fold, all: args.all }), style.fold);
  switch (args.format) {
    case 'json':
      return `${jsonSafe(JSON.stringify(r, null, style.compact ? undefined : 2))}\n`;
    case 'openmetrics':
    case 'prometheus': {
      // Loaded only for these formats: a JSON or table report does not pay for it.
      const { processMetrics, systemMetrics } = require('./openmetrics') as typeof import('./openmetrics');
      const format = args.format === 'prometheus' ? 'text' : 'openmetrics';
      return r.kind === 'process' ? processMetrics(r, format) : systemMetrics(r, format, args.groupBy);
    }
    case 'table':
      if (r.kind === 'process') {
        const bloatText = r.bloat ? renderBloat(r.bloat, { all: args.all, paint: style.paint }) : '';
        return foldLines(`${renderProcessTable(r, { all: args.all, paint: style.paint, fold: style.fold })}${bloatText}`, style.fold);
      }
      return foldLines(renderSystemTable(r, { paint: style.paint, width: style.width, fold: style.fold, previous: style.previous }), style.fold);
  }
}
