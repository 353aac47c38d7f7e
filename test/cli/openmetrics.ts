/**
 * A strict reader of OpenMetrics 1.0 text (the spec's ABNF and its family rules), and of the text
 * format 0.0.4 where it differs. It throws on any line a scraper would refuse: a sample before
 * its family's TYPE, a family split in two or declared twice, TYPE/UNIT/HELP repeated or after a
 * sample, a UNIT the name does not end with, a sample name its type does not allow (a counter's
 * must be <name>_total or _created; a histogram's _bucket with le, _sum, _count), a label
 * repeated, bad escapes, a series written twice, a value that is not a number, a counter below 0
 * or NaN, a histogram without le="+Inf", invalid UTF-8, blank lines, anything after `# EOF` or
 * no `# EOF` at all.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL_NAME = '[a-zA-Z_][a-zA-Z0-9_]*';
const LABEL = `(${LABEL_NAME})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`;
// ABNF strings are case-insensitive: NaN, nan and Nan (prom-client's) are all valid, as Inf/Infinity.
const NUMBER = '[+-]?(?:(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[Ii][Nn][Ff](?:[Ii][Nn][Ii][Tt][Yy])?|[Nn][Aa][Nn])';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,(?:${LABEL}))*)?\\})? (${NUMBER})(?: (-?\\d+(?:\\.\\d+)?))?$`);
const TYPES = ['counter', 'gauge', 'histogram', 'gaugehistogram', 'stateset', 'info', 'summary', 'unknown'];

/** Sample-name suffixes each type allows (beyond the family's own name, where allowed). */
const SUFFIXES: Record<string, string[]> = {
  counter: ['_total', '_created'],
  histogram: ['_bucket', '_sum', '_count', '_created'],
  gaugehistogram: ['_gsum', '_gcount', '_bucket'],
  summary: ['_sum', '_count', '_created', ''],
  info: ['_info'],
  gauge: [''],
  stateset: [''],
  unknown: [''],
};

function toNumber(text: string): number {
  if (/nan/i.test(text)) return NaN;
  return /inf/i.test(text) ? (text.startsWith('-') ? -Infinity : Infinity) : Number(text);
}

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

export function parseOpenMetrics(text: string): { types: Record<string, string>; units: Record<string, string>; samples: Sample[] } {
  if (Buffer.from(text, 'utf8').toString('utf8') !== text || /[\ud800-\udfff]/u.test(text)) throw new Error('not valid UTF-8');
  if (!text.endsWith('# EOF\n') && !text.endsWith('# EOF')) throw new Error('the text does not end with "# EOF"');
  const body = text.slice(0, text.lastIndexOf('# EOF'));
  if (body.includes('# EOF')) throw new Error('"# EOF" before the end');
  const lines = body.split('\n').slice(0, -1);
  const types: Record<string, string> = {};
  const units: Record<string, string> = {};
  const helps = new Set<string>();
  const done = new Set<string>();
  const series = new Set<string>();
  const samples: Sample[] = [];
  const infBucket = new Map<string, boolean>();
  let current: string | undefined;
  let sampled = false;
  const close = (): void => {
    if (current === undefined) return;
    for (const [k, seen] of infBucket) if (!seen) throw new Error(`histogram ${current}: series ${k} has no le="+Inf" bucket`);
    infBucket.clear();
    done.add(current);
  };
  for (const [i, line] of lines.entries()) {
    const where = `line ${i + 1} (${JSON.stringify(line)})`;
    if (line === '') throw new Error(`${where}: blank line`);
    if (line.startsWith('#')) {
      const meta = new RegExp(`^# (HELP|TYPE|UNIT) (${NAME})(?: (.*))?$`).exec(line);
      if (!meta) throw new Error(`${where}: a comment other than HELP, TYPE, UNIT or EOF`);
      const [, kind, name, rest = ''] = meta;
      if (name !== current) {
        close();
        if (done.has(name)) throw new Error(`${where}: family ${name} appears twice`);
        current = name;
        sampled = false;
      }
      if (sampled) throw new Error(`${where}: ${kind} after the family's samples`);
      if (kind === 'TYPE') {
        if (types[name]) throw new Error(`${where}: TYPE repeated`);
        if (!TYPES.includes(rest)) throw new Error(`${where}: unknown type`);
        types[name] = rest;
      } else if (kind === 'UNIT') {
        if (units[name] !== undefined) throw new Error(`${where}: UNIT repeated`);
        if (rest && !name.endsWith(`_${rest}`)) throw new Error(`${where}: a family with UNIT ${rest} must end in _${rest}`);
        units[name] = rest;
      } else {
        if (helps.has(name)) throw new Error(`${where}: HELP repeated`);
        if (/\\[^\\n"]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${where}: bad escape in HELP`);
        helps.add(name);
      }
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`${where}: neither metadata nor a sample`);
    const name = m[1];
    const labelText = m[2];
    const value = m[m.length - 2];
    // The sample belongs to the current family if its name is the family's plus a suffix its type allows.
    const type = current !== undefined ? types[current] ?? 'unknown' : undefined;
    const suffix = current !== undefined && name.startsWith(current) ? name.slice(current.length) : undefined;
    if (current === undefined || suffix === undefined || !(SUFFIXES[type!] ?? ['']).includes(suffix)) {
      if (type === 'counter' && name === current) throw new Error(`${where}: a counter's sample must be named ${current}_total`);
      throw new Error(`${where}: sample ${name} outside its family (current family: ${current ?? 'none'}, ${type ?? 'no TYPE'})`);
    }
    if (!types[current]) throw new Error(`${where}: sample before its family's TYPE`);
    sampled = true;
    const labels: Record<string, string> = {};
    for (const l of labelText?.matchAll(new RegExp(LABEL, 'g')) ?? []) {
      if (l[1] in labels) throw new Error(`${where}: label ${l[1]} repeated`);
      labels[l[1]] = unescape(l[2]);
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new Error(`${where}: the same series twice`);
    series.add(key);
    const v = toNumber(value);
    if ((type === 'counter' || type === 'histogram') && (suffix === '_total' || suffix === '_count' || suffix === '_bucket') && !(v >= 0)) throw new Error(`${where}: a count below 0 or NaN`);
    if (type === 'histogram' && suffix === '_bucket') {
      if (labels.le === undefined) throw new Error(`${where}: a bucket without le`);
      const rest = JSON.stringify(Object.entries(labels).filter(([k]) => k !== 'le').sort());
      infBucket.set(rest, (infBucket.get(rest) ?? false) || labels.le === '+Inf');
    }
    samples.push({ name, labels, value: v });
  }
  close();
  return { types, units, samples };
}

/**
 * The text format 0.0.4 read just as strictly where it agrees with OpenMetrics: HELP and TYPE
 * name the sample (a counter's is <name>_total), no EOF, no UNIT.
 */
export function parseText(text: string): { types: Record<string, string>; samples: Sample[] } {
  if (text.includes('# EOF')) throw new Error('"# EOF" in the text format');
  const types: Record<string, string> = {};
  const samples: Sample[] = [];
  let current: string | undefined;
  const done = new Set<string>();
  for (const [i, line] of text.split('\n').slice(0, -1).entries()) {
    const where = `line ${i + 1} (${JSON.stringify(line)})`;
    if (line === '') continue; // the text format allows blank lines (prom-client writes them)
    const meta = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (name !== current) {
        if (current) done.add(current);
        if (done.has(name)) throw new Error(`${where}: family ${name} appears twice`);
        current = name;
      }
      if (kind === 'TYPE') types[name] = rest;
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`${where}: neither metadata nor a sample`);
    const labels: Record<string, string> = {};
    for (const l of m[2]?.matchAll(new RegExp(LABEL, 'g')) ?? []) labels[l[1]] = unescape(l[2]);
    const type = current && types[current];
    if (type === 'counter' && !m[1].endsWith('_total')) throw new Error(`${where}: a counter without _total`);
    samples.push({ name: m[1], labels, value: toNumber(m[m.length - 2]) });
  }
  return { types, samples };
}
