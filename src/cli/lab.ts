/**
 * `hugespan lab`: the same seeded churn on a span heap per coalescing policy, on real memory,
 * then the collapse pass and the check against the kernel, side by side. Invariant: every
 * number printed comes from a LabResult; the verdict line is derived from them, never typed.
 */
import { hostInfo, hugePagesAvailable } from '../native/host';
import { runLab, LabOptions, LabResult } from '../lab/run';
import { POLICY_NAMES, isPolicyName } from '../heap/policy';
import type { PolicyName } from '../heap/policy';
import { hostJson, thpJson } from './report';
import { hostLine } from './report-text';
import { EXIT, UsageError, formatBytes, formatPercent, palette, parseBytes, parseCommandArgs, parseNumber, progressBar, renderTable } from './ui';

const usage = `usage: hugespan lab [--policy LIST|both|all] [--thp always|host] [--arena SIZE] [--ops N] [--seed S] [--json]

Runs the Go runtime's 2019 span heap on real memory under a seeded churn of allocations, frees
and scavenges, ends with a sweep that frees about half of the live spans, asks the kernel to
collapse what khugepaged would (MADV_COLLAPSE), and compares the heap's count of free huge
pages with what the kernel really backs — once per policy, on the same workload.

  --policy   comma-separated, side by side: none (Go 1.13 before the seed), coalesce (the
             seed: re-advise hugepage when a merge makes a new huge page), density (Go 1.21),
             filler (TCMalloc Temeraire), hpa (jemalloc); both = coalesce,none (default);
             all = every policy
  --thp      always (default): advise the arena hugepage, as on a host with THP enabled=always;
             host: leave it to this host's setting
  --arena    the heap's reserved arena (default 512M)
  --ops      workload operations (default 30000)
  --seed     workload seed (default 1)
  --json     the results as JSON (schema 1)`;

export interface LabReport {
  schema: 1;
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
    thp: { type: 'string' },
    arena: { type: 'string' },
    ops: { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  const policy = v.policy ?? 'both';
  const names = policy === 'both' ? ['coalesce', 'none'] : policy === 'all' ? [...POLICY_NAMES] : policy.split(',');
  const bad = names.find((p) => !isPolicyName(p));
  if (bad !== undefined || new Set(names).size !== names.length) {
    throw new UsageError(`--policy wants a list of ${POLICY_NAMES.join(', ')} (or both, all), not '${policy}'`);
  }
  const thp = v.thp ?? 'always';
  if (thp !== 'always' && thp !== 'host') throw new UsageError(`--thp wants always or host, not '${thp}'`);
  const arenaBytes = v.arena === undefined ? 512 << 20 : parseBytes(v.arena, '--arena');
  if (arenaBytes < 64 << 20 || arenaBytes > 64 * 2 ** 30) throw new UsageError(`--arena wants a size from 64M to 64G, not '${v.arena}'`);
  const ops = v.ops === undefined ? 30000 : parseNumber(v.ops, '--ops', { min: 1, max: 10_000_000, integer: true });
  const seed = v.seed === undefined ? 1 : parseNumber(v.seed, '--seed', { min: 0, max: 2 ** 32 - 1, integer: true });

  const policies = names as PolicyName[];
  const results: LabResult[] = [];
  for (const p of policies) {
    const bar = v.json ? progressBar('', 0, { isTTY: false } as NodeJS.WriteStream) : progressBar(`lab ${p.padEnd(8)}`, ops);
    const options: LabOptions = { policy: p, thp, arenaBytes, ops, seed };
    results.push(runLab(options, (done) => bar.update(done)));
    bar.finish();
  }

  const info = hostInfo();
  const avail = hugePagesAvailable();
  const unavailable = avail.ok ? null : avail.reason;
  const report: LabReport = {
    schema: 1,
    kind: 'lab',
    host: hostJson(info),
    thp: thpJson(info),
    thpUnavailable: unavailable,
    runs: results.map(({ verification: { spans: _spans, ...verification }, ...rest }) => ({ ...rest, verification })),
    verdict: verdict(results, unavailable),
  };
  process.stdout.write(v.json ? `${JSON.stringify(report, null, 2)}\n` : text(report, results));
  return EXIT.ok;
}

/** One line: which policy kept its count of free huge pages true, with the numbers. */
export function verdict(results: LabResult[], unavailable: string | null): string {
  const say = (r: LabResult) => {
    const v = r.verification;
    const off = v.countMinusTruth;
    return off === 0
      ? `${r.options.policy} kept its count true (${v.free.claimed} free huge pages counted, ${v.free.backed} backed)`
      : `${r.options.policy} ${off > 0 ? 'overstated' : 'understated'} it by ${Math.abs(off)} (${v.free.claimed} counted, ${v.free.backed} backed)`;
  };
  let line = results.map(say).join('; ') + '.';
  if (results.some((r) => !r.verification.exact)) line += ' (Backed pages estimated from smaps: this kernel has no PAGEMAP_SCAN.)';
  return unavailable ? `${line} No count can come true here: ${unavailable}.` : line;
}

function text(report: LabReport, results: LabResult[]): string {
  const paint = palette();
  const o = results[0].options;
  const cell = (f: (r: LabResult) => string) => results.map(f);
  const row = (label: string, f: (r: LabResult) => string) => [label, ...cell(f)];
  const n = (x: number) => String(x);
  const ms = (x: number) => (x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`);
  const rows = [
    row('free huge pages: heap count', (r) => n(r.verification.free.claimed)),
    row('  eligible (kernel may back)', (r) => n(r.verification.free.eligible)),
    row(results[0].verification.exact ? '  backed (kernel, PAGEMAP_SCAN)' : '  ≈ backed (smaps estimate)', (r) => n(r.verification.free.backed)),
    row('  count − truth', (r) => {
      const d = r.verification.countMinusTruth;
      return (d === 0 ? paint.green : paint.red)(n(d));
    }),
    row('in-use huge pages: backed/count', (r) => `${r.verification.inUse.backed}/${r.verification.inUse.claimed}`),
    row('in-use memory on huge pages', (r) => formatPercent(r.inUseHugeShare)),
    row('heap in use / released', (r) => `${formatBytes(r.heap.heapInuse)} / ${formatBytes(r.heap.heapReleased)}`),
    row('arena AnonHugePages', (r) => formatBytes(r.verification.arena.anonHugePages)),
    row('arena RSS', (r) => formatBytes(r.verification.arena.rss)),
    row('arena marked nohugepage', (r) => formatBytes(r.verification.arena.nhBytes)),
    row('madvise hugepage', (r) => n(r.calls.hugepage)),
    row('madvise nohugepage', (r) => n(r.calls.nohugepage)),
    row(`madvise ${r0release(results)}`, (r) => n(r.calls.dontneed + r.calls.free)),
    row('madvise per alloc+free', (r) => r.madvisePerPair.toFixed(3)),
    row('collapse: done/already/nh', (r) => `${r.collapse.collapsed}/${r.collapse.already}/${r.collapse.refused.nh}`),
    row('random read, in-use memory', (r) => `${r.readNs.toFixed(1)} ns`),
    row('time: churn / collapse', (r) => `${ms(r.ms.workload)} / ${ms(r.ms.collapse)}`),
  ];
  const table = renderTable(
    [{ title: '' }, ...results.map((r) => ({ title: r.options.policy, align: 'right' as const }))],
    rows,
    { header: paint.bold },
  );
  const setup =
    `workload  ${o.ops} ops, seed ${o.seed}, arena ${formatBytes(o.arenaBytes)}, runtime page 8 KiB, thp ${o.thp}` +
    (o.thp === 'always' ? ' (arena advised hugepage, as on a host with enabled=always)' : ' (the host decides)');
  const r0 = results[0];
  const ops = `ops       ${r0.ops.allocs} allocs, ${r0.ops.frees} frees (half the live set in the final sweep), ${r0.ops.scavenges} scavenges`;
  return [
    `${paint.bold('hugespan lab')}  ${hostLine(report.host, report.thp)}`,
    setup,
    ops,
    report.thpUnavailable ? paint.yellow(`THP       unavailable: ${report.thpUnavailable}`) : '',
    '',
    table,
    '',
    paint.bold(report.verdict),
    '',
  ]
    .filter((l, i, a) => l !== '' || a[i - 1] !== '')
    .join('\n');
}

function r0release(results: LabResult[]): string {
  return results.some((r) => r.calls.free > 0) ? 'dontneed/free' : 'dontneed';
}
