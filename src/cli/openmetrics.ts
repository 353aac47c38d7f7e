/**
 * Reports in the OpenMetrics text format (Prometheus' text exposition), to be scraped or left
 * for node_exporter's textfile collector. Invariant: every family's HELP and TYPE precede its
 * samples, families never interleave, label values are escaped, and the text ends "# EOF\n".
 */
import type { ProcessReport, SystemReport } from '../account/schema';

type Labels = Record<string, string>;

interface Family {
  name: string;
  help: string;
  samples: { labels: Labels; value: number }[];
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function sampleLine(name: string, labels: Labels, value: number): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return `${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${value}`;
}

/** Every family is a gauge: each is a reading of memory as it is now, not a running count. */
function render(families: Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    if (!f.samples.length) continue;
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} gauge`);
    for (const s of f.samples) lines.push(sampleLine(f.name, s.labels, s.value));
  }
  return `${lines.join('\n')}\n# EOF\n`;
}

type Measure<P> = [name: string, help: string, value: (p: P) => number];

/** One family per measure, one sample per process. */
function perProcess<P extends { pid: number; comm: string }>(processes: P[], measures: Measure<P>[]): Family[] {
  return measures.map(([name, help, value]) => ({
    name,
    help,
    samples: processes.map((p) => ({ labels: { pid: String(p.pid), comm: p.comm }, value: value(p) })),
  }));
}

const ANON: [string, string] = ['hugespan_anon_bytes', 'Anonymous memory of the process in bytes.'];
const HUGE: [string, string] = ['hugespan_anon_huge_bytes', 'Anonymous memory of the process on PMD huge pages, in bytes.'];
const RATIO: [string, string] = ['hugespan_coverage_ratio', 'Share of the anonymous memory on huge pages (0..1).'];

export function processMetrics(r: ProcessReport): string {
  const t = r.totals;
  const measures: Measure<unknown>[] = [
    [...ANON, () => t.anonymous],
    [...HUGE, () => t.anonHugePages],
    [...RATIO, () => t.coverage],
    ['hugespan_nohugepage_bytes', 'Anonymous memory in VMAs advised nohugepage (nh), in bytes.', () => t.noHugePage],
    ['hugespan_eligible_not_huge_bytes', 'Anonymous memory in THP-eligible VMAs not on huge pages, in bytes.', () => t.eligibleNotHuge],
  ];
  if (r.thpDisabled !== null) measures.push(['hugespan_thp_disabled', 'THP switched off for the process by prctl(PR_SET_THP_DISABLE): 1 or 0.', () => Number(r.thpDisabled)]);
  return render(perProcess([{ pid: r.pid, comm: r.comm }], measures));
}

export function systemMetrics(r: SystemReport): string {
  const system = (name: string, help: string, value: number): Family => ({ name, help, samples: [{ labels: {}, value }] });
  return render([
    system('hugespan_system_anon_bytes', 'Anonymous memory of the whole system (meminfo AnonPages) in bytes.', r.memory.anonymous),
    system('hugespan_system_anon_huge_bytes', 'Anonymous memory of the whole system on huge pages (meminfo AnonHugePages) in bytes.', r.memory.anonHugePages),
    system('hugespan_system_coverage_ratio', 'Share of the system anonymous memory on huge pages (0..1).', r.memory.coverage),
    system('hugespan_unreadable_processes', 'Processes whose memory map hugespan may not read.', r.unreadable),
    ...perProcess(r.processes, [
      [...ANON, (p) => p.anonymous],
      [...HUGE, (p) => p.anonHugePages],
      [...RATIO, (p) => p.coverage],
    ]),
  ]);
}
