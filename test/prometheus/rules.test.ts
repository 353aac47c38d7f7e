/**
 * The shipped rules and dashboard (prometheus/): promtool accepts the rules and their unit tests
 * pass (where promtool is installed; a changed threshold makes them fail), and every metric any
 * expression names is one the exporter writes (the vocabulary) or a recording rule defines.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { FAMILIES, sampleName } from '../../src/cli/metrics';
import { itUnless } from '../support/thp';
import { promtool, promtoolReason } from '../support/promtool';

const DIR = path.join(__dirname, '..', '..', 'prometheus');
const RULES = fs.readFileSync(path.join(DIR, 'hugespan.rules.yml'), 'utf8');
const DASHBOARD = JSON.parse(fs.readFileSync(path.join(DIR, 'grafana-dashboard.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };

/** Every expression of the rules (the YAML's expr: values, block or inline) and of the dashboard. */
export function expressions(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const lines = RULES.split('\n');
  let name = '';
  for (let i = 0; i < lines.length; i++) {
    const n = /^\s*- (?:record|alert): (\S+)/.exec(lines[i]);
    if (n) name = n[1];
    const m = /^(\s*)expr: ?(.*)$/.exec(lines[i]);
    if (!m) continue;
    if (m[2] !== '|') {
      out.push({ where: `rule ${name}`, expr: m[2] });
      continue;
    }
    const body: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1].startsWith(`${m[1]}  `) || lines[i + 1].trim() === '')) body.push(lines[++i].trim());
    out.push({ where: `rule ${name}`, expr: body.join(' ').trim() });
  }
  for (const p of DASHBOARD.panels) for (const t of p.targets) out.push({ where: `panel "${p.title}"`, expr: t.expr });
  return out;
}

it('every metric an expression names is written by the exporter or recorded by a rule', () => {
  const known = new Set([...FAMILIES.map(sampleName), ...[...RULES.matchAll(/- record: (\S+)/g)].map((m) => m[1])]);
  const list = expressions();
  expect(list.length).toBeGreaterThanOrEqual(20);
  for (const { where, expr } of list) {
    for (const m of expr.matchAll(/\b((?:[a-z_]+:)?hugespan_[\w:]*\w)/g)) expect(`${where}: ${known.has(m[1]) ? 'known' : m[1]}`).toBe(`${where}: known`);
  }
});

itUnless(promtoolReason, 'promtool check rules and promtool test rules pass', () => {
  const check = promtool(['check', 'rules', path.join(DIR, 'hugespan.rules.yml')]);
  expect(check.output).toContain('SUCCESS: 11 rules found');
  expect(check.status).toBe(0);
  const test = promtool(['test', 'rules', path.join(DIR, 'hugespan.rules.test.yml')]);
  expect(test.output).toContain('SUCCESS');
  expect(test.status).toBe(0);
});

itUnless(promtoolReason, 'the unit tests catch a changed rule (a fallback threshold of 50 %)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-rules-'));
  try {
    fs.writeFileSync(path.join(dir, 'hugespan.rules.yml'), RULES.replace('ratio_rate5m > 0.1', 'ratio_rate5m > 0.5'));
    fs.copyFileSync(path.join(DIR, 'hugespan.rules.test.yml'), path.join(dir, 'hugespan.rules.test.yml'));
    const test = promtool(['test', 'rules', path.join(dir, 'hugespan.rules.test.yml')]);
    expect(test.status).not.toBe(0);
    expect(test.output).toContain('HugespanThpFaultFallbackHigh');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
