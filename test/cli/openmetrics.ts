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
    // A counter family's samples are <family>_total (and _created); every other family's, its name.
    const family = current !== undefined && types[current] === 'counter' && (name === `${current}_total` || name === `${current}_created`) ? current : name;
    if (family !== current || !help.has(family) || !types[family]) throw new Error(`${where}: sample before its family's HELP and TYPE`);
    if (types[family] === 'counter' && name === family) throw new Error(`${where}: a counter's sample must be named ${family}_total`);
    const labels: Record<string, string> = {};
    for (const l of labelText?.match(new RegExp(LABEL, 'g')) ?? []) {
      const eq = l.indexOf('=');
      labels[l.slice(0, eq)] = l.slice(eq + 2, -1).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    samples.push({ name, labels, value: Number(value.replace('Inf', 'Infinity')) });
    if (types[family] === 'counter' && !(Number(value) >= 0)) throw new Error(`${where}: a counter below 0`);
  }
  return { types, samples };
}
