/**
 * `hugespan lab`: the same seeded workload (or replayed trace) on a span heap per coalescing policy
 * (and, with --heap, on the Go 1.14-style page heap), on real memory,
 * then the collapse pass and the check against the kernel, side by side. Invariant: every
 * number printed comes from a LabResult; the verdict line is derived from them, never typed. A
 * trace is read and validated whole before the first heap is mapped: a bad one runs nothing.
 */
import { hostInfo, hugePagesAvailable } from '../native/host';
import { runLab, LabOptions, LabResult, HEAP_KINDS, KHUGEPAGED_MODES, RELEASES } from '../lab/run';
import type { HeapKind, KhugepagedMode, ReleaseChoice } from '../lab/run';
import { matchedP50Ratio, MIN_P99_SAMPLES } from '../lab/latency';
import { plotSvg } from '../lab/plot';
import { WORKLOAD_NAMES, isWorkloadName } from '../lab/workload';
import { parseTrace, formatEvent, TraceError, TraceEvent } from '../lab/trace';
import { loadGoTrace, GoTraceError } from '../lab/go-trace';
import type { GoTrace } from '../lab/go-trace';
import { readFileSync, openSync, writeSync, closeSync } from 'node:fs';
import { POLICY_NAMES, isPolicyName } from '../heap/policy';
import type { PolicyName } from '../heap/policy';
import { hostJson, thpJson } from '../account/report';
import { hostLine } from './report-text';
import { EXIT, UsageError, checkPretty, foldWidth, formatBytes, formatPercent, jsonText, palette, parseBytes, parseCommandArgs, parseNumber, progressBar, renderTable } from './ui';

const usage = `usage: hugespan lab [--policy LIST|both|all] [--heap LIST|both] [--thp always|host] [--arena SIZE] [--ops N] [--seed S]
                   [--workload churn|steady|phase | --trace FILE | --go-trace FILE] [--record FILE]
                   [--khugepaged none|pass|model] [--release free|dontneed|default] [--ms-per-op MS]
                   [--time-scale X] [--plot FILE] [--json [--pretty]]

Runs the Go runtime's 2019 span heap on real memory under a seeded churn of allocations, frees
and scavenges, ends with a sweep that frees about half of the live spans, asks the kernel to
collapse what khugepaged would (MADV_COLLAPSE), and compares the heap's count of free huge
pages with what the kernel really backs — once per policy, on the same workload.

  --policy   comma-separated, side by side: none (Go 1.13 before the seed), coalesce (the
             seed: re-advise hugepage when a merge makes a new huge page), density (Go 1.21),
             filler (TCMalloc Temeraire), hpa (jemalloc); both = coalesce,none (default);
             all = every policy
  --heap     comma-separated: treap (default; the 2019 span heap, once per --policy),
             pagealloc (Go 1.14's radix-tree page allocator plus the seed's rule, which Go
             1.14 did not have: MADV_HUGEPAGE a huge page frame a free leaves wholly free);
             both = treap,pagealloc
  --thp      always (default): advise the arena hugepage, as on a host with THP enabled=always;
             host: leave it to this host's setting
  --arena    the heap's reserved arena (default 512M)
  --ops      workload operations (default 30000)
  --seed     workload seed (default 1; with --trace, the seed of the final sweep and reads)
  --workload churn (default): mixed sizes, fast turnover; steady: a server, many small spans,
             slow turnover; phase: grow to a peak, free most of it, grow again
  --trace    replay FILE, JSON Lines of alloc/free/gc events (docs/trace.md) instead of a
             workload; read and checked whole first, a bad line is a usage error
  --go-trace replay a real Go program's heap: FILE is a Go 1.23 execution trace recorded with
             GODEBUG=traceallocfree=1 (go test -trace, runtime/trace), or the lab's own form of
             one (traces/*.spans.gz; npm run traces makes them), gzipped or not. Its spans, the
             sweeper's frees, its GC cycles and heap goals, on its own clock; no final sweep
  --time-scale  with --go-trace: the trace's time multiplied by X (default 1), to show what
             the clock adds (the scavenger, hpa and khugepaged run on it)
  --record   write the ops as run (first policy) to FILE as a trace
  --khugepaged  what stands in for khugepaged: pass (default): after the run, MADV_COLLAPSE every
             frame it could ever pick, at once (an upper bound, not khugepaged); none: absent;
             model: pages_to_scan per scan_sleep_millisecs of program time, a young page
             needed, max_ptes_none (this host's knobs). In-use share is shown before and after
  --release  sysUnused's advice: default (each policy's allocator: Go 1.13 free for none and
             coalesce and pagealloc, Go 1.21 / TCMalloc / jemalloc dontneed for density / filler
             / hpa), free (MADV_FREE for all), dontneed (MADV_DONTNEED for all)
  --ms-per-op  program time per op (default 1): the clock of the scavenger, hpa and khugepaged
  --plot     write the time series (in-use share, RSS, RSS - LazyFree, released) as SVG to FILE
  --json     the results as JSON (schema 2)
  --pretty   indented JSON; the default only on a terminal (piped: one compact line)`;

export interface LabReport {
  schema: 2;
  kind: 'lab';
  host: ReturnType<typeof hostJson>;
  thp: ReturnType<typeof thpJson>;
  /** Why this process cannot have huge pages, when it cannot: every count then overstates. */
  thpUnavailable: string | null;
  runs: (Omit<LabResult, 'verification'> & { verification: Omit<LabResult['verification'], 'spans'> })[];
  verdict: string;
}

export async function run(argv: string[]): Promise<number> {
  const v = parseCommandArgs(argv, {
    policy: { type: 'string' },
    heap: { type: 'string' },
    thp: { type: 'string' },
    arena: { type: 'string' },
    ops: { type: 'string' },
    seed: { type: 'string' },
    workload: { type: 'string' },
    trace: { type: 'string' },
    'go-trace': { type: 'string' },
    'time-scale': { type: 'string' },
    record: { type: 'string' },
    khugepaged: { type: 'string' },
    release: { type: 'string' },
    'ms-per-op': { type: 'string' },
    plot: { type: 'string' },
    json: { type: 'boolean' },
    pretty: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  checkPretty(v.pretty, v.json);
  const policy = v.policy ?? 'both';
  const names = policy === 'both' ? ['coalesce', 'none'] : policy === 'all' ? [...POLICY_NAMES] : policy.split(',');
  const bad = names.find((p) => !isPolicyName(p));
  if (bad !== undefined || new Set(names).size !== names.length) {
    throw new UsageError(`--policy wants a list of ${POLICY_NAMES.join(', ')} (or both, all), not '${policy}'`);
  }
  const heapList = v.heap === undefined ? ['treap'] : v.heap === 'both' ? [...HEAP_KINDS] : v.heap.split(',');
  if (heapList.some((h) => !(HEAP_KINDS as readonly string[]).includes(h)) || new Set(heapList).size !== heapList.length) {
    throw new UsageError(`--heap wants a list of ${HEAP_KINDS.join(', ')} (or both), not '${v.heap}'`);
  }
  const heaps = heapList as HeapKind[];
  if (v.policy !== undefined && !heaps.includes('treap')) throw new UsageError('--policy is the treap heap\'s: give --heap treap (or both) with it');
  const thp = v.thp ?? 'always';
  if (thp !== 'always' && thp !== 'host') throw new UsageError(`--thp wants always or host, not '${thp}'`);
  const arenaBytes = v.arena === undefined ? 512 << 20 : parseBytes(v.arena, '--arena');
  if (arenaBytes < 64 << 20 || arenaBytes > 64 * 2 ** 30) throw new UsageError(`--arena wants a size from 64M to 64G, not '${v.arena}'`);
  let ops = v.ops === undefined ? 30000 : parseNumber(v.ops, '--ops', { min: 1, max: 10_000_000, integer: true });
  const seed = v.seed === undefined ? 1 : parseNumber(v.seed, '--seed', { min: 0, max: 2 ** 32 - 1, integer: true });
  const khugepaged = (v.khugepaged ?? 'pass') as KhugepagedMode;
  if (!KHUGEPAGED_MODES.includes(khugepaged)) throw new UsageError(`--khugepaged wants ${KHUGEPAGED_MODES.join(', ')}, not '${v.khugepaged}'`);
  const release = (v.release ?? 'default') as ReleaseChoice;
  if (!RELEASES.includes(release)) throw new UsageError(`--release wants ${RELEASES.join(', ')}, not '${v.release}'`);
  const msPerOp = v['ms-per-op'] === undefined ? 1 : parseNumber(v['ms-per-op'], '--ms-per-op', { min: 0.001, max: 1_000_000 });
  const workloadName = v.workload ?? 'churn';
  if (!isWorkloadName(workloadName)) throw new UsageError(`--workload wants ${WORKLOAD_NAMES.join(', ')}, not '${workloadName}'`);
  let events: TraceEvent[] | undefined;
  if (v.trace !== undefined) {
    if (v.workload !== undefined) throw new UsageError('--trace replays its own workload: give --trace or --workload, not both');
    if (v.ops !== undefined) throw new UsageError('--trace sets the ops (one per event): leave out --ops');
    let text: string;
    try {
      text = readFileSync(v.trace, 'utf8');
    } catch (e) {
      throw new UsageError(`--trace cannot read '${v.trace}': ${(e as { code?: string }).code ?? (e as Error).message}`);
    }
    try {
      events = parseTrace(text, v.trace);
    } catch (e) {
      if (e instanceof TraceError) throw new UsageError(`--trace ${e.message}`);
      throw e;
    }
    if (events.length === 0) throw new UsageError(`--trace '${v.trace}' has no events`);
    ops = events.length;
  }
  let goTrace: GoTrace | undefined;
  const goFile = v['go-trace'];
  if (goFile !== undefined) {
    if (v.workload !== undefined || v.trace !== undefined) throw new UsageError('--go-trace replays its own workload: give one of --go-trace, --trace, --workload');
    if (v.ops !== undefined) throw new UsageError('--go-trace sets the ops (one per event): leave out --ops');
    if (v['ms-per-op'] !== undefined) throw new UsageError('--go-trace runs on the trace\'s own clock: --time-scale scales it, --ms-per-op does not apply');
    if (v.record !== undefined) throw new UsageError('--record writes the lab\'s JSON Lines trace, which has no clock: not with --go-trace');
    let bytes: Buffer;
    try {
      bytes = readFileSync(goFile);
    } catch (e) {
      throw new UsageError(`--go-trace cannot read '${goFile}': ${(e as { code?: string }).code ?? (e as Error).message}`);
    }
    try {
      goTrace = loadGoTrace(bytes, goFile).trace;
    } catch (e) {
      if (e instanceof GoTraceError) throw new UsageError(`--go-trace ${e.message}`);
      throw e;
    }
    if (goTrace.count === 0) throw new UsageError(`--go-trace '${goFile}' has no span events`);
    ops = goTrace.count;
  }
  if (v['time-scale'] !== undefined && goTrace === undefined) throw new UsageError('--time-scale scales a --go-trace\'s clock: give --go-trace with it');
  const timeScale = v['time-scale'] === undefined ? 1 : parseNumber(v['time-scale'], '--time-scale', { min: 0.001, max: 1000 });
  // Opened before anything runs, so an unwritable --record or --plot is a usage error, not a lost run.
  let plotFd: number | undefined;
  if (v.plot !== undefined) {
    try {
      plotFd = openSync(v.plot, 'w');
    } catch (e) {
      throw new UsageError(`--plot cannot write '${v.plot}': ${(e as { code?: string }).code ?? (e as Error).message}`);
    }
  }
  let recordFd: number | undefined;
  if (v.record !== undefined) {
    try {
      recordFd = openSync(v.record, 'w');
    } catch (e) {
      if (plotFd !== undefined) closeSync(plotFd);
      throw new UsageError(`--record cannot write '${v.record}': ${(e as { code?: string }).code ?? (e as Error).message}`);
    }
  }

  // The treap once per policy, then the page heap once (its policy field is unused: 'coalesce', the rule it follows per frame).
  const setups: { heap: HeapKind; policy: PolicyName }[] = [
    ...(heaps.includes('treap') ? (names as PolicyName[]).map((policy) => ({ heap: 'treap' as const, policy })) : []),
    ...(heaps.includes('pagealloc') ? [{ heap: 'pagealloc' as const, policy: 'coalesce' as const }] : []),
  ];
  const results: LabResult[] = [];
  for (const { heap, policy: p } of setups) {
    const title = heap === 'pagealloc' ? 'pagealloc' : p;
    const bar = v.json ? progressBar('', 0, { isTTY: false } as NodeJS.WriteStream) : progressBar(`lab ${title.padEnd(9)}`, ops);
    const common = { policy: p, heap, thp: thp as LabOptions['thp'], arenaBytes, ops, seed, khugepaged, release, msPerOp };
    const options: LabOptions = goTrace ? { ...common, workload: 'go-trace', trace: goFile, timeScale } : events ? { ...common, workload: 'trace', trace: v.trace } : { ...common, workload: workloadName };
    // Every policy runs the same ops, so the first run's are the recording.
    const lines: string[] = [];
    const record = recordFd !== undefined && results.length === 0 ? (e: TraceEvent) => void lines.push(formatEvent(e)) : undefined;
    try {
      results.push(runLab(options, (done) => bar.update(done), { events, record, goTrace }));
    } catch (e) {
      if (recordFd !== undefined) closeSync(recordFd);
      if (plotFd !== undefined) closeSync(plotFd);
      throw e;
    }
    bar.finish();
    if (record) {
      writeSync(recordFd!, lines.length ? `${lines.join('\n')}\n` : '');
      closeSync(recordFd!);
    }
  }

  const info = hostInfo();
  const avail = hugePagesAvailable();
  const unavailable = avail.ok ? null : avail.reason;
  const report: LabReport = {
    schema: 2,
    kind: 'lab',
    host: hostJson(info),
    thp: thpJson(info),
    thpUnavailable: unavailable,
    runs: results.map(({ verification: { spans: _spans, ...verification }, ...rest }) => ({ ...rest, verification })),
    verdict: verdict(results, unavailable),
  };
  if (plotFd !== undefined) {
    const o = results[0].options;
    writeSync(plotFd, plotSvg(results.map((r) => ({ label: runLabel(r), series: r.series })), `hugespan lab: ${o.workload === 'trace' || o.workload === 'go-trace' ? `${o.workload} ${o.trace}` : o.workload}, ${o.ops} ops, seed ${o.seed}, ${o.workload === 'go-trace' ? `its clock ×${o.timeScale}` : `${o.msPerOp} ms/op`}, khugepaged ${o.khugepaged}, release ${o.release}`));
    closeSync(plotFd);
  }
  process.stdout.write(v.json ? jsonText(report, v.pretty) : text(report, results));
  return EXIT.ok;
}

/** A run's column title and name in the verdict: its policy on the treap heap, `pagealloc` for the page heap. */
export function runLabel(r: LabResult): string {
  return r.options.heap === 'pagealloc' ? 'pagealloc' : r.options.policy;
}

/** One line: which policy kept its count of free huge pages true, with the numbers. */
export function verdict(results: LabResult[], unavailable: string | null): string {
  const say = (r: LabResult) => {
    const v = r.verification;
    const off = v.countMinusTruth;
    return off === 0
      ? `${runLabel(r)} kept its count true (${v.free.claimed} free huge pages counted, ${v.free.backed} backed)`
      : `${runLabel(r)} ${off > 0 ? 'overstated' : 'understated'} it by ${Math.abs(off)} (${v.free.claimed} counted, ${v.free.backed} backed)`;
  };
  let line = results.map(say).join('; ') + '.';
  // The seed's question at every sample, before any collapse pass: a count above the frames the
  // kernel may back is one no khugepaged can make true.
  const over = results.filter((r) => r.countOverRun.overEligible > 0);
  const samples = results[0]?.countOverRun.samples ?? 0;
  line += over.length
    ? ` Over the run (${samples} samples, no collapse pass): ${over.map((r) => `${runLabel(r)} counted frames the kernel may not back at ${r.countOverRun.overEligible} (up to ${r.countOverRun.maxOverEligible})`).join(', ')}; ${results.filter((r) => r.countOverRun.overEligible === 0).map(runLabel).join(', ') || 'no policy'} never did.`
    : ` Over the run (${samples} samples, no collapse pass): no count ever exceeded the frames the kernel may back.`;
  line += goal(results);
  if (results.some((r) => !r.verification.exact)) line += ' (Backed pages estimated from smaps: this kernel has no PAGEMAP_SCAN.)';
  return unavailable ? `${line} No count can come true here: ${unavailable}.` : line;
}

/**
 * The issue's goal, judged on the steady state (medians over the run's second half, before any
 * collapse pass, so the figure is the policy's and not the method's): the best steady in-use huge
 * share among policies whose steady RSS − LazyFree is ≤ 1.1 × coalesce's and whose total advice
 * time over the same ops is ≤ 2 × coalesce's; else which constraint binds. Never a p99: over a
 * few hundred calls it is the maximum, and a sample count cannot support it. Then the ranking.
 */
function goal(results: LabResult[]): string {
  const seed = results.find((r) => runLabel(r) === 'coalesce');
  const others = results.filter((r) => runLabel(r) !== 'coalesce' && runLabel(r) !== 'none');
  if (!seed || others.length === 0) return '';
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const mem = (r: LabResult) => r.steady.rssMinusLazyFree / Math.max(1, seed.steady.rssMinusLazyFree);
  const time = (r: LabResult) => r.adviceLatencyNs.totalNs / Math.max(1, seed.adviceLatencyNs.totalNs);
  const rssOk = (r: LabResult) => mem(r) <= 1.1;
  const latOk = (r: LabResult) => time(r) <= 2;
  const share = (r: LabResult) => r.steady.inUseHugeShare;
  const ranking = ` Ranking by steady in-use huge share: ${[...results].sort((a, b) => share(b) - share(a)).map((r) => `${runLabel(r)} ${pct(share(r))}`).join(' > ')}.`;
  const ok = others.filter((r) => share(r) >= 0.9 && rssOk(r) && latOk(r)).sort((a, b) => share(b) - share(a));
  if (ok.length) {
    const r = ok[0];
    return ` Goal met by ${runLabel(r)}: ${pct(share(r))} of in-use memory on huge pages in the steady state (coalesce ${pct(share(seed))}), RSS − LazyFree ${mem(r).toFixed(2)}× coalesce's, total advice time ${time(r).toFixed(2)}× coalesce's.${ranking}`;
  }
  const best = [...others].sort((a, b) => share(b) - share(a))[0];
  const binds = [
    share(best) < 0.9 ? `steady in-use huge share ${pct(share(best))} < 90%` : '',
    rssOk(best) ? '' : `steady RSS − LazyFree ${mem(best).toFixed(2)}× coalesce's > 1.10×`,
    latOk(best) ? '' : `total advice time ${time(best).toFixed(2)}× coalesce's > 2×`,
  ].filter(Boolean);
  return ` Goal not met; for ${runLabel(best)} (best steady in-use share) the binding constraint: ${binds.join(', ')}.${ranking}`;
}

function text(report: LabReport, results: LabResult[]): string {
  const paint = palette();
  const o = results[0].options;
  const cell = (f: (r: LabResult) => string) => results.map(f);
  const row = (label: string, f: (r: LabResult) => string) => [label, ...cell(f)];
  const n = (x: number) => String(x);
  const us = (ns: number) => (ns / 1000).toFixed(ns < 10_000 ? 1 : 0);
  const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);
  const rows = [
    row('free huge pages: heap count', (r) => n(r.verification.free.claimed)),
    row('  eligible (kernel may back)', (r) => n(r.verification.free.eligible)),
    row(results[0].verification.exact ? '  backed (kernel, PAGEMAP_SCAN)' : '  ≈ backed (smaps estimate)', (r) => n(r.verification.free.backed)),
    row('  count − truth', (r) => {
      const d = r.verification.countMinusTruth;
      return (d === 0 ? paint.green : paint.red)(n(d));
    }),
    row('  over the run: count > eligible', (r) => `${r.countOverRun.overEligible}/${r.countOverRun.samples} samples${r.countOverRun.maxOverEligible ? `, up to +${r.countOverRun.maxOverEligible}` : ''}`),
    row('  over the run: count > backed', (r) => `${r.countOverRun.overBacked}/${r.countOverRun.samples} samples${r.countOverRun.maxOverBacked ? `, up to +${r.countOverRun.maxOverBacked}` : ''}`),
    row('in-use huge pages: backed/count', (r) => `${r.verification.inUse.backed}/${r.verification.inUse.claimed}`),
    row('release advice', (r) => r.release),
    row('in-use on huge pages: end, before pass', (r) => formatPercent(r.inUseHugeShareBefore)),
    row('  after pass', (r) => (r.khugepaged.mode === 'pass' ? formatPercent(r.inUseHugeShare) : `no pass (${r.khugepaged.mode})`)),
    row('  steady (median, 2nd half)', (r) => formatPercent(r.steady.inUseHugeShare)),
    row('arena RSS / heap in use (end)', (r) => r.rssOverInUse.toFixed(2)),
    row('  (RSS − LazyFree) / in use, steady', (r) => r.steady.rssOverInUse.toFixed(2)),
    row('heap in use / released', (r) => `${formatBytes(r.heap.heapInuse)} / ${formatBytes(r.heap.heapReleased)}`),
    row('arena AnonHugePages', (r) => formatBytes(r.verification.arena.anonHugePages)),
    row('arena RSS / LazyFree (end)', (r) => `${formatBytes(r.verification.arena.rss)} / ${formatBytes(r.lazyFree)}`),
    row('  steady RSS / RSS − LazyFree', (r) => `${formatBytes(r.steady.rss)} / ${formatBytes(r.steady.rssMinusLazyFree)}`),
    row('arena marked nohugepage', (r) => formatBytes(r.verification.arena.nhBytes)),
    row('madvise hugepage', (r) => n(r.calls.hugepage)),
    row('madvise nohugepage', (r) => n(r.calls.nohugepage)),
    row('madvise dontneed/free', (r) => `${r.calls.dontneed}/${r.calls.free}`),
    row('madvise collapse (policy)', (r) => n(r.calls.collapse)),
    row('madvise per alloc+free', (r) => r.madvisePerPair.toFixed(3)),
    row('advice total time', (r) => ms(r.adviceLatencyNs.totalNs / 1e6)),
    row('advice p50 (calls); p99 from 1000', (r) => `${us(r.adviceLatencyNs.p50)} µs (${r.adviceLatencyNs.calls})${r.adviceLatencyNs.p99 === null ? '' : `; ${us(r.adviceLatencyNs.p99)} µs`}`),
    row('  size-matched p50 vs coalesce', (r) => {
      const seed = results.find((x) => runLabel(x) === 'coalesce');
      const m = seed && seed !== r ? matchedP50Ratio(r.adviceLatencyNs, seed.adviceLatencyNs) : null;
      return m ? `${m.ratio.toFixed(2)}× (${m.classes} classes, ${m.calls} calls)` : '–';
    }),
    row('vmstat: fallback/stall/collapse', (r) => `${r.vmstat.thp_fault_fallback}/${r.vmstat.compact_stall}/${r.vmstat.thp_collapse_alloc}`),
    row('GC cycles; scavenged bg/alloc', (r) => `${r.runtime.gcCycles}; ${formatBytes(r.runtime.released.background)}/${formatBytes(r.runtime.released.onAlloc)}`),
    row('khugepaged', (r) => {
      const k = r.khugepaged;
      if (k.mode === 'pass') return `pass: ${r.collapse.collapsed} done, ${r.collapse.already} already, ${r.collapse.refused.nh} nh`;
      if (k.mode === 'none') return 'absent';
      const m = k.model!;
      return `${m.scans} scans: ${m.collapsed} done, ${m.skipped.notYoung} not young`;
    }),
    row('random read, in-use memory', (r) => `${r.readNs.toFixed(1)} ns`),
    row('  raw mapping: all huge / all 4 KiB', (r) => `${r.rawReadNs.huge.toFixed(1)} / ${r.rawReadNs.small.toFixed(1)} ns`),
    row('time: churn / collapse', (r) => `${ms(r.ms.workload)} / ${ms(r.ms.collapse)}`),
  ];
  const table = renderTable(
    [{ title: '' }, ...results.map((r) => ({ title: runLabel(r), align: 'right' as const }))],
    rows,
    { header: paint.bold, width: foldWidth() },
  );
  const what = o.workload === 'trace' || o.workload === 'go-trace' ? `${o.workload} ${o.trace}, ${o.ops} events` : `${o.workload ?? 'churn'}, ${o.ops} ops`;
  const setup =
    `workload  ${what}, seed ${o.seed}, arena ${formatBytes(o.arenaBytes)}, runtime page 8 KiB, thp ${o.thp}` +
    (o.thp === 'always' ? ' (arena advised hugepage, as on a host with enabled=always; fault-time compaction stalls are not timed)' : ' (the host decides)') +
    `\nclock     ${o.workload === 'go-trace' ? `the trace's own${o.timeScale !== 1 ? ` ×${o.timeScale}` : ''} (${(results[0].runtime.clockMs / 1000).toFixed(2)} s)` : `${o.msPerOp ?? 1} ms of program time per op`}; khugepaged ${o.khugepaged ?? 'pass'}; release ${o.release ?? 'default'}; steady = median over the run's second half`;
  const r0 = results[0];
  const gt = r0.runtime.goTrace;
  const ops = gt
    ? `ops       ${r0.ops.allocs} allocs, ${r0.ops.frees} frees (the program's sweeper), ${r0.ops.scavenges} scavenges; heap in use = the trace's at ${gt.equalAtGc} of ${gt.gcs} GC cycles` +
      (gt.spansOverHeapLive ? `; its spans ×${gt.spansOverHeapLive[0].toFixed(2)}–${gt.spansOverHeapLive[1].toFixed(2)} the runtime's heapLive` : '') +
      (gt.unrecorded.frees + gt.unrecorded.impliedFrees ? `; Go's tracer left out ${gt.unrecorded.frees} frees of spans it never showed and ${gt.unrecorded.impliedFrees} it implied` : '')
    : `ops       ${r0.ops.allocs} allocs, ${r0.ops.frees} frees (half the live set in the final sweep), ${r0.ops.scavenges} scavenges`;
  return [
    `${paint.bold('hugespan lab')}  ${hostLine(report.host, report.thp)}`,
    setup,
    ops,
    report.thpUnavailable ? paint.yellow(`THP       unavailable: ${report.thpUnavailable}`) : '',
    '',
    table,
    '',
    paint.bold(report.verdict),
    ...readsNote(results),
    '',
  ]
    .filter((l, i, a) => l !== '' || a[i - 1] !== '')
    .join('\n');
}

/**
 * Whether this machine tells huge from 4 KiB pages by read latency: on a VM whose host backs
 * guest memory with 4 KiB pages it may not, and then the read rows say nothing about policies.
 */
function readsNote(results: LabResult[]): string[] {
  // One raw pair per policy run: their median gain, so one noisy pair does not decide.
  const gains = results.filter((x) => x.rawReadNs.huge > 0).map((x) => x.rawReadNs.small / x.rawReadNs.huge).sort((a, b) => a - b);
  if (!gains.length) return [];
  const gain = gains[gains.length >> 1];
  return gain < 1.05
    ? [`reads: this machine does not resolve huge pages from 4 KiB ones (all-4 KiB reads ${gain.toFixed(2)}x all-huge): the read rows say nothing about the policies here`]
    : [`reads: all-4 KiB reads took ${gain.toFixed(2)}x all-huge in this run (median over the policies' raw pairs)`];
}
