/**
 * A strict reader of the OpenMetrics text hugespan writes: it throws on any line a scraper
 * would refuse — a sample before its family's HELP and TYPE, a family split in two, bad label
 * syntax, a value that is not a number, anything after `# EOF` or no `# EOF` at all.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(${LABEL}(?:,${LABEL})*)\\})? (-?(?:\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?|NaN|Inf)|[+-]Inf)$`);

export function parseOpenMetrics(text: string): { types: Record<string, string>; samples: Sample[] } {
  if (!text.endsWith('# EOF\n')) throw new Error('the text does not end with "# EOF\\n"');
  const lines = text.slice(0, -'# EOF\n'.length).split('\n').slice(0, -1);
  const help = new Set<string>();
  const types: Record<string, string> = {};
  const done = new Set<string>();
  const samples: Sample[] = [];
  let current: string | undefined;
  for (const [i, line] of lines.entries()) {
    const where = `line ${i + 1} (${JSON.stringify(line)})`;
    const meta = new RegExp(`^# (HELP|TYPE) (${NAME}) (.+)$`).exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (name !== current) {
        if (current) done.add(current);
        if (done.has(name)) throw new Error(`${where}: family ${name} appears twice`);
        current = name;
      }
      if (kind === 'HELP') help.add(name);
      else if (['gauge', 'counter', 'info', 'unknown'].includes(rest)) types[name] = rest;
      else throw new Error(`${where}: unknown type`);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`${where}: neither metadata nor a sample`);
    const [, name, labelText, value] = m;
    if (name !== current || !help.has(name) || !types[name]) throw new Error(`${where}: sample before its family's HELP and TYPE`);
    const labels: Record<string, string> = {};
    for (const l of labelText?.match(new RegExp(LABEL, 'g')) ?? []) {
      const eq = l.indexOf('=');
      labels[l.slice(0, eq)] = l.slice(eq + 2, -1).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name, labels, value: Number(value.replace('Inf', 'Infinity')) });
  }
  return { types, samples };
}
