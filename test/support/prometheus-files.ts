/**
 * The shipped Prometheus files (prometheus/) as tests read them: the rules' text, the dashboard,
 * and every PromQL expression of both, named by where it stands.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const DIR = path.join(__dirname, '..', '..', 'prometheus');
export const RULES_FILE = path.join(DIR, 'hugespan.rules.yml');
export const RULES = fs.readFileSync(RULES_FILE, 'utf8');
export const DASHBOARD = JSON.parse(fs.readFileSync(path.join(DIR, 'grafana-dashboard.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };

export interface Expression {
  where: string;
  /** alert, record or panel. */
  kind: 'alert' | 'record' | 'panel';
  name: string;
  expr: string;
}

/** Every expression of the rules (the YAML's expr: values, block or inline) and of the dashboard. */
export function expressions(): Expression[] {
  const out: Expression[] = [];
  const lines = RULES.split('\n');
  let kind: 'alert' | 'record' = 'record';
  let name = '';
  for (let i = 0; i < lines.length; i++) {
    const n = /^\s*- (record|alert): (\S+)/.exec(lines[i]);
    if (n) [kind, name] = [n[1] as 'alert' | 'record', n[2]];
    const m = /^(\s*)expr: ?(.*)$/.exec(lines[i]);
    if (!m) continue;
    if (m[2] !== '|') {
      out.push({ where: `rule ${name}`, kind, name, expr: m[2] });
      continue;
    }
    const body: string[] = [];
    while (i + 1 < lines.length && (lines[i + 1].startsWith(`${m[1]}  `) || lines[i + 1].trim() === '')) body.push(lines[++i].trim());
    out.push({ where: `rule ${name}`, kind, name, expr: body.join(' ').trim() });
  }
  for (const p of DASHBOARD.panels) for (const t of p.targets) out.push({ where: `panel "${p.title}"`, kind: 'panel', name: p.title, expr: t.expr });
  return out;
}

/** The metric names (and recording rule names) an expression reads. */
export function namesIn(expr: string): string[] {
  return [...expr.matchAll(/\b((?:[a-z_]+:)?hugespan_[\w:]*\w)/g)].map((m) => m[1]);
}
