/**
 * Samples of the vocabulary's families (metrics.ts) written in Prometheus' two text formats:
 * OpenMetrics 1.0 and the text format 0.0.4. Invariant: each family's metadata precedes its
 * samples, families never interleave (they are written in vocabulary order whatever order the
 * samples came in), a counter's samples are `<name>_total` in both formats (so the stored series
 * does not depend on what the scraper asked for), label values are escaped per each format's
 * rules, and an OpenMetrics document ends "# EOF\n" once.
 */
import { FAMILIES, MetricFamily, family, sampleName } from './metrics';

export type Labels = Record<string, string>;

export interface Sample {
  family: MetricFamily;
  labels: Labels;
  value: number;
}

export type Format = 'openmetrics' | 'text';

export const CONTENT_TYPE: Record<Format, string> = {
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
  text: 'text/plain; version=0.0.4; charset=utf-8',
};

/** Samples in the making: `add(name, value, labels)`, by family name. */
export class Samples {
  readonly list: Sample[] = [];
  add(name: string, value: number, labels: Labels = {}): void {
    this.list.push({ family: family(name), labels, value });
  }
}

/** Both formats escape \, " and newline in label values; nothing else may stand raw in them but valid UTF-8. */
function escapeLabel(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

function escapeHelp(text: string, format: Format): string {
  // Text 0.0.4 escapes \ and newline in HELP; OpenMetrics also the double quote.
  return text.replace(format === 'openmetrics' ? /[\\\n"]/g : /[\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * The document (without OpenMetrics' "# EOF": `end` adds it, so more families may follow, such
 * as prom-client's defaults). Families without samples are left out.
 */
export function render(samples: readonly Sample[], format: Format): string {
  const byFamily = new Map<MetricFamily, Sample[]>();
  for (const s of samples) {
    const list = byFamily.get(s.family);
    if (list) list.push(s);
    else byFamily.set(s.family, [s]);
  }
  const out: string[] = [];
  for (const x of FAMILIES) {
    const list = byFamily.get(x);
    if (!list) continue;
    const name = sampleName(x);
    const help = escapeHelp(x.help, format);
    if (format === 'openmetrics') {
      out.push(`# TYPE ${x.name} ${x.type}`);
      if (x.unit) out.push(`# UNIT ${x.name} ${x.unit}`);
      out.push(`# HELP ${x.name} ${help}`);
    } else {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${x.type === 'info' ? 'gauge' : x.type}`);
    }
    for (const s of list) {
      const pairs = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
      out.push(`${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${formatValue(s.value)}`);
    }
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/** A whole document of these samples: OpenMetrics ends "# EOF". */
export function document(samples: readonly Sample[], format: Format): string {
  return `${render(samples, format)}${format === 'openmetrics' ? '# EOF\n' : ''}`;
}
