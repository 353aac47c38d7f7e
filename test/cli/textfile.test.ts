/**
 * `report --format openmetrics|prometheus` for node_exporter's textfile collector: the same
 * names, types and HELP as `serve` (one vocabulary), no pid label in the host view, groups by
 * comm/exe/cgroup without pid, and the text format clean for promtool where it is installed.
 */
import { cli, startTarget, Target } from './cli';
import { parseOpenMetrics, parseText } from './openmetrics';
import { FAMILIES, sampleName } from '../../src/cli/metrics';
import { OWNERS } from '../../src/account/owners';
import { itUnless } from '../support/thp';
import { promtool, promtoolReason } from '../support/promtool';
import { OPENMETRICS, get, startServe } from '../support/serve';

let target: Target;
beforeAll(async () => {
  target = await startTarget();
}, 30000);
afterAll(() => target?.stop());

const names = new Set(FAMILIES.map(sampleName));

describe('the textfile output', () => {
  it('host view: only vocabulary families, none with a pid label; the same HELP and TYPE lines as serve', async () => {
    const r = cli(['report', '--format', 'openmetrics']);
    expect(r.status).toBe(0);
    const m = parseOpenMetrics(r.stdout);
    for (const s of m.samples) expect(names).toContain(s.name);
    expect(m.samples.filter((s) => s.labels.pid !== undefined)).toEqual([]);
    const s = await startServe([]);
    try {
      const served = (await get(`${s.base}/metrics`, { accept: OPENMETRICS })).body.toString();
      const meta = (text: string) => new Set(text.split('\n').filter((l) => /^# (HELP|TYPE|UNIT) hugespan_/.test(l)));
      const mine = meta(r.stdout);
      const theirs = meta(served);
      // Every family both write is described identically (the textfile adds only unreadable processes).
      for (const line of mine) if (!line.includes('hugespan_unreadable_processes')) expect(theirs).toContain(line);
    } finally {
      await s.stop();
    }
  });

  it('--pid: the process families serve writes for a selected process, with pid and comm', () => {
    const r = cli(['report', '--pid', String(target.pid), '--format', 'openmetrics']);
    const m = parseOpenMetrics(r.stdout);
    for (const s of m.samples) {
      expect(names).toContain(s.name);
      expect(s.labels).toMatchObject({ pid: String(target.pid), comm: 'node' });
    }
  });

  it('--pid: anonymous bytes by owner, every owner of the fixed set once, summing to the process\'s own figures in the same reading', () => {
    const r = cli(['report', '--pid', String(target.pid), '--format', 'openmetrics']);
    const m = parseOpenMetrics(r.stdout);
    const one = (name: string) => m.samples.find((s) => s.name === name)!.value;
    for (const [family, total] of [['hugespan_process_owner_anonymous_bytes', 'hugespan_process_anonymous_bytes'], ['hugespan_process_owner_pmd_mapped_bytes', 'hugespan_process_pmd_mapped_bytes']]) {
      const rows = m.samples.filter((s) => s.name === family);
      expect(rows.map((s) => s.labels.owner).sort()).toEqual(OWNERS.map((o) => o.code).sort());
      expect(rows.reduce((n, s) => n + s.value, 0)).toBe(one(total));
    }
    // The target is node: V8's heap is named as such; the report's JSON names the same owners.
    const v8 = m.samples.find((s) => s.name === 'hugespan_process_owner_anonymous_bytes' && s.labels.owner === 'v8-heap')!;
    expect(v8.value).toBeGreaterThan(0);
    const j = JSON.parse(cli(['report', '--pid', String(target.pid), '--json']).stdout);
    const named = m.samples.filter((s) => s.name === 'hugespan_process_owner_anonymous_bytes' && s.value > 0).map((s) => s.labels.owner);
    expect(named.sort()).toEqual(j.owners.byOwner.filter((o: { anonymous: number }) => o.anonymous > 0).map((o: { owner: string }) => o.owner).sort());
  });

  it('--group-by comm: every readable process summed per comm, no pid; bad uses refused', () => {
    const r = cli(['report', '--format', 'openmetrics', '--group-by', 'comm']);
    expect(r.status).toBe(0);
    const m = parseOpenMetrics(r.stdout);
    expect(m.samples.filter((s) => s.labels.pid !== undefined)).toEqual([]);
    const node = m.samples.find((s) => s.name === 'hugespan_processes' && s.labels.comm === 'node');
    expect(node!.value).toBeGreaterThanOrEqual(2); // the test runner and the target at least
    const anon = m.samples.find((s) => s.name === 'hugespan_process_anonymous_bytes' && s.labels.comm === 'node')!.value;
    expect(anon).toBeGreaterThanOrEqual(32 * 2 ** 20); // the target's huge region alone
    expect(cli(['report', '--format', 'table', '--group-by', 'comm']).status).toBe(2);
    expect(cli(['report', '--pid', String(target.pid), '--format', 'openmetrics', '--group-by', 'comm']).status).toBe(2);
    expect(cli(['report', '--format', 'openmetrics', '--group-by', 'uid']).stderr).toContain("--group-by wants comm, exe or cgroup, not 'uid'");
  });

  it('--format prometheus: the text format 0.0.4, counters _total, no # EOF', () => {
    const r = cli(['report', '--format', 'prometheus', '--group-by', 'exe']);
    expect(r.status).toBe(0);
    const { types, samples } = parseText(r.stdout);
    expect(types.hugespan_thp_events_total).toBe('counter');
    expect(samples.some((s) => s.name === 'hugespan_process_anonymous_bytes' && s.labels.exe === process.execPath)).toBe(true);
  });

  itUnless(promtoolReason, 'promtool check metrics: the prometheus textfile (host, grouped, --pid) is clean', () => {
    for (const args of [[], ['--group-by', 'cgroup'], ['--pid', String(target.pid)]]) {
      const r = cli(['report', '--format', 'prometheus', ...args]);
      const check = promtool(['check', 'metrics'], r.stdout);
      expect(check.output).toBe('');
      expect(check.status).toBe(0);
    }
  });
});
