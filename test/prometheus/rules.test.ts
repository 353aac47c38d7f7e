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
import { DIR, RULES, expressions, namesIn } from '../support/prometheus-files';

it('every metric an expression names is written by the exporter or recorded by a rule', () => {
  const known = new Set([...FAMILIES.map(sampleName), ...[...RULES.matchAll(/- record: (\S+)/g)].map((m) => m[1])]);
  const list = expressions();
  expect(list.length).toBeGreaterThanOrEqual(20);
  for (const { where, expr } of list) {
    for (const n of namesIn(expr)) expect(`${where}: ${known.has(n) ? 'known' : n}`).toBe(`${where}: known`);
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
