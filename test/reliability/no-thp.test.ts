/**
 * A host without huge pages, emulated: the THP suites run in a process tree with THP disabled
 * by prctl. Every THP test must report its skip and a reason this host explains — THP off for
 * the process, or, where the host itself says so, THP off host-wide (or absent), or no
 * PAGEMAP_SCAN on this kernel; an unexplained skip fails. Everything else — the allocator on
 * real memory among it — must pass.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT, progress } from '../support/child';
import { SCAN_REASON } from '../support/thp';
import { hugePagesAvailable } from '../../src/native/host';
import { pagemapScanSupported } from '../../src/native/coverage';

const PRCTL_REASON = 'THP is disabled for this process (prctl PR_SET_THP_DISABLE)';

/**
 * The reasons a THP test may give under the prctl here. hugePagesAvailable() asks the host
 * before the process, so where this host has no THP at all, or `enabled` = never, its own
 * reason wins over the prctl one; PAGEMAP_SCAN tests skip with theirs on kernels < 6.7.
 */
function expectedReasons(): { thp: string; all: string[] } {
  const here = hugePagesAvailable();
  // Not ok here for the prctl reason only when this jest run is itself under the prctl.
  const thp = here.ok ? PRCTL_REASON : here.reason;
  return { thp, all: pagemapScanSupported() ? [thp] : [thp, SCAN_REASON] };
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Runs a command, relaying a progress line every 10 s (a nested jest run is long and quiet). */
function run(cmd: string, args: string[], timeoutMs: number): Promise<{ status: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    // One model seed of allocator-stress: the model does not touch the kernel, so more seeds
    // under the prctl only repeat what npm test has already run.
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, HUGESPAN_MODEL_SEEDS: '1' } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const started = Date.now();
    const tick = setInterval(() => {
      const last = stderr.trimEnd().split('\n').filter((l) => /^(PASS|FAIL)\b/.test(l)).pop();
      progress(`no-thp: nested jest running ${Math.round((Date.now() - started) / 1000)} s${last ? `, last: ${last.slice(0, 100)}` : ''}`);
    }, 10000);
    const kill = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', (e) => (clearInterval(tick), clearTimeout(kill), reject(e)));
    child.on('close', (status, signal) => {
      clearInterval(tick);
      clearTimeout(kill);
      if (signal && Date.now() - started >= timeoutMs) reject(new Error(`nested jest timed out after ${timeoutMs / 1000} s; stderr: ${stderr.slice(-2000)}`));
      else resolve({ status, signal, stderr });
    });
  });
}

it('THP suites under PR_SET_THP_DISABLE: THP tests skip with a reason this host explains, the rest pass', async () => {
  const reasons = expectedReasons();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-nothp-'));
  const out = path.join(dir, 'jest.json');
  let r: Awaited<ReturnType<typeof run>>;
  let report: any;
  try {
    r = await run(
      process.execPath,
      ['scripts/without-thp.js', process.execPath, 'node_modules/jest/bin/jest.js', 'test/native/thp.test.ts', 'test/native/thp-disabled.test.ts', 'test/verify', 'test/reliability/allocator-stress.test.ts', '--json', `--outputFile=${out}`],
      120000,
    );
    report = JSON.parse(fs.readFileSync(out, 'utf8'));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const tests = report.testResults.flatMap((f: any) => f.assertionResults) as { title: string; status: string }[];
  const skipped = tests.filter((t) => t.status === 'pending');
  expect(tests.filter((t) => t.status === 'failed')).toEqual([]);
  expect(r.status).toBe(0);
  expect(r.stderr).toContain(`hugespan: skipping: ${reasons.thp}`);
  expect(skipped.length).toBeGreaterThanOrEqual(8);
  // Every skip carries one of the explained reasons at the end of its title; any other fails.
  const explained = new RegExp(`\\[skipped: (${reasons.all.map(escape).join('|')})\\]$`);
  expect(skipped.map((t) => t.title).filter((title) => !explained.test(title))).toEqual([]);
  // Without huge pages the allocator still works, on the model and on real memory.
  const passed = tests.filter((t) => t.status === 'passed').map((t) => t.title);
  expect(passed).toEqual(expect.arrayContaining(['on real memory: 5 000 ops, invariants after every op', 'seed 1: 15 000 ops, invariants after every op']));
}, 150000);
