/**
 * One vocabulary, written where it is documented: README's metric table is exactly what
 * scripts/metrics-table.js prints from src/cli/metrics.ts, and live scrapes of `serve` (a selected
 * process; every process grouped by cgroup) plus the textfile write every family of it — save
 * those whose condition this host does not meet, each skip said — and nothing outside it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startTarget, Target, cli } from './cli';
import { parseOpenMetrics, Sample } from './openmetrics';
import { FAMILIES, sampleName } from '../../src/cli/metrics';
import { get, OPENMETRICS, startServe } from '../support/serve';
import { absentBecause } from '../support/families';

const { table } = require('../../scripts/metrics-table.js') as { table(f: typeof FAMILIES): string };
const README = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');

let target: Target;
beforeAll(async () => {
  target = await startTarget();
}, 30000);
afterAll(() => target?.stop());

it("README's metric table is the one generated from the vocabulary", () => {
  expect(README).toContain(`${table(FAMILIES)}\n`);
  // And it is the only table naming hugespan_ metrics: no stale second list.
  const rows = README.split('\n').filter((l) => /^\| `hugespan_\w+` \|/.test(l));
  expect(rows).toHaveLength(FAMILIES.length);
});

it('live scrapes and the textfile write every family of the vocabulary and nothing else', async () => {
  const samples: Sample[] = [];
  for (const args of [['--pid', String(target.pid)], ['--group-by', 'cgroup']]) {
    const s = await startServe(args);
    try {
      samples.push(...parseOpenMetrics((await get(`${s.base}/metrics`, { accept: OPENMETRICS })).body.toString()).samples);
    } finally {
      await s.stop();
    }
  }
  samples.push(...parseOpenMetrics(cli(['report', '--format', 'openmetrics']).stdout).samples);
  const written = new Set(samples.map((s) => s.name).filter((n) => n.startsWith('hugespan_')));
  const vocabulary = new Set(FAMILIES.map(sampleName));
  expect([...written].filter((n) => !vocabulary.has(n))).toEqual([]);
  const missing = [...vocabulary].filter((n) => !written.has(n));
  const skipped = missing.map((n) => [n, absentBecause(n)] as const);
  for (const [n, why] of skipped) if (why) process.stderr.write(`hugespan: ${n} not written here: ${why}\n`);
  expect(skipped.filter(([, why]) => !why).map(([n]) => n)).toEqual([]);
}, 60000);
