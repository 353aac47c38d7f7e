/**
 * A host without huge pages, emulated: the THP suites run in a process tree with THP disabled
 * by prctl. Every THP test must report its skip and the reason; everything else — the
 * allocator on real memory among it — must pass.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../support/child';

it('THP suites under PR_SET_THP_DISABLE: THP tests skip with the reason, the rest pass', () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-nothp-')), 'jest.json');
  const r = spawnSync(
    process.execPath,
    ['scripts/without-thp.js', process.execPath, 'node_modules/jest/bin/jest.js', 'test/native/thp.test.ts', 'test/native/thp-disabled.test.ts', 'test/verify', 'test/reliability/allocator-stress.test.ts', '--json', `--outputFile=${out}`],
    { cwd: ROOT, encoding: 'utf8', timeout: 120000 },
  );
  const report = JSON.parse(fs.readFileSync(out, 'utf8'));
  fs.rmSync(path.dirname(out), { recursive: true });
  const tests = report.testResults.flatMap((f: any) => f.assertionResults) as { title: string; status: string }[];
  const skipped = tests.filter((t) => t.status === 'pending');
  expect(r.status).toBe(0);
  expect(r.stderr).toContain('hugespan: skipping THP tests: THP is disabled for this process (prctl PR_SET_THP_DISABLE)');
  expect(skipped.length).toBeGreaterThanOrEqual(8);
  for (const t of skipped) expect(t.title).toMatch(/\[skipped: THP is disabled for this process \(prctl PR_SET_THP_DISABLE\)\]$/);
  expect(tests.filter((t) => t.status === 'failed')).toEqual([]);
  // Without huge pages the allocator still works, on the model and on real memory.
  const passed = tests.filter((t) => t.status === 'passed').map((t) => t.title);
  expect(passed).toEqual(expect.arrayContaining(['on real memory: 5 000 ops, invariants after every op', 'seed 1: 15 000 ops, invariants after every op']));
});
