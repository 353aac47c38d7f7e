/**
 * The bench's command line (scripts/bench/run.js), without running a single row: `--help` names
 * the one-minute pass and the time budget, every --only group it lists is a row the bench knows,
 * and a row it does not know is a usage error (exit 2) before anything is measured.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const RUN = path.join(__dirname, '..', '..', 'scripts', 'bench', 'run.js');

function bench(args: string[]) {
  return spawnSync(process.execPath, [RUN, ...args], { encoding: 'utf8', timeout: 30000 });
}

describe('scripts/bench/run.js command line', () => {
  it('--help lists --quick and --budget, and the groups up to row 19', () => {
    const r = bench(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/--quick\b/);
    expect(r.stdout).toMatch(/--budget S\b/);
    const groups = r.stdout.match(/groups: ([^)]*)\)/)?.[1].split(', ') ?? [];
    expect(groups.flatMap((g) => g.split('+')).sort((a, b) => Number(a) - Number(b))).toEqual(
      Array.from({ length: 19 }, (_, i) => String(i + 1)),
    );
  });

  it('refuses an unknown row and a bad budget with exit 2, measuring nothing', () => {
    const unknown = bench(['--only', '99']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/no row 99/);
    const budget = bench(['--budget', '0']);
    expect(budget.status).toBe(2);
    expect(budget.stderr).toMatch(/--budget/);
  });
});
