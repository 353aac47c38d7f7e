/**
 * `hugespan report` without --pid: the host's settings, meminfo and vmstat figures, and the
 * processes ranked by anonymous memory — the target among them with the memory it holds.
 */
import * as fs from 'node:fs';
import { cli, cliJson, startTarget, Target } from './cli';
import { parseOpenMetrics } from './openmetrics';
import { itThp, MiB } from '../support/thp';
import { hugePageSize } from '../../src/native/host';

let target: Target;
let report: any;
beforeAll(async () => {
  target = await startTarget();
  report = cliJson(['report', '--all']);
});
afterAll(() => target?.stop());

const ours = () => report.processes.find((p: any) => p.pid === target.pid);

describe('report (system)', () => {
  it('JSON: schema, host settings, meminfo, every thp_* counter, ranked processes', () => {
    expect(report).toMatchObject({ schema: 2, kind: 'system', method: 'smaps_rollup' });
    expect(report.thp.hugePageSize).toBe(hugePageSize()); // what sysfs says, 0 included
    expect(report.memory.anonymous).toBeGreaterThan(0);
    expect(report.memory.coverage).toBeCloseTo(report.memory.anonHugePages / report.memory.anonymous, 12);
    expect(Object.keys(report.counters).length).toBeGreaterThan(0);
    expect(Object.keys(report.counters).every((k) => k.startsWith('thp_'))).toBe(true);
    const anon = report.processes.map((p: any) => p.anonymous);
    expect(anon).toEqual([...anon].sort((a, b) => b - a));
    expect(report.processes).toHaveLength(report.readable);
    expect(report.unreadable).toEqual(expect.any(Number));
  });

  it('compaction counters, multi-size THP and free huge-page-sized blocks, as the kernel files say', () => {
    expect(Object.keys(report.compaction).length).toBeGreaterThan(0);
    expect(Object.keys(report.compaction).every((k) => k.startsWith('compact_'))).toBe(true);
    const thp = '/sys/kernel/mm/transparent_hugepage';
    const sizes = fs.existsSync(thp) ? fs.readdirSync(thp).filter((d) => /^hugepages-\d+kB$/.test(d)).map((d) => d.slice(10)) : [];
    expect(Object.keys(report.mthp).sort()).toEqual(sizes.sort());
    if (!report.thp.hugePageSize) return expect(report.freeHugeBlocks).toEqual([]);
    // Independently: each zone's counts from order 9 up, a block of order k worth 2^(k-9).
    const zones = fs.readFileSync('/proc/buddyinfo', 'utf8').trim().split('\n').map((l) => l.trim().split(/\s+/));
    expect(report.freeHugeBlocks.map((z: any) => z.zone)).toEqual(zones.map((f) => f[3]));
    for (const z of report.freeHugeBlocks) expect(z.blocks).toBeGreaterThanOrEqual(0);
  });

  it('the target is listed with at least the 48 MiB it touched', () => {
    expect(ours()).toMatchObject({ comm: 'node', thpDisabled: false });
    expect(ours().anonymous).toBeGreaterThanOrEqual(48 * MiB);
  });

  itThp('the target has at least its 40 MiB of huge pages, and so has the system', () => {
    expect(ours().anonHugePages).toBeGreaterThanOrEqual(40 * MiB);
    expect(report.memory.anonHugePages).toBeGreaterThanOrEqual(40 * MiB);
  });

  it('without --all: the top 10 only', () => {
    const top = cliJson(['report']);
    expect(top.processes.length).toBe(Math.min(10, top.readable));
  });

  it('as a table: settings, memory, counters, the process table', () => {
    const r = cli(['report', '--all']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^system {2}/);
    expect(r.stdout).toMatch(/^memory {4}anonymous .* · coverage \d+\.\d%/m);
    expect(r.stdout).toMatch(/^events {4}fault_alloc \d+/m);
    expect(r.stdout).toMatch(/^all \d+ processes by anonymous memory/m);
    expect(r.stdout).toMatch(new RegExp(`^ *${target.pid}  node  `, 'm'));
  });

  it('as OpenMetrics: system gauges and one sample per listed process', () => {
    const r = cli(['report', '--format', 'openmetrics']);
    expect(r.status).toBe(0);
    const m = parseOpenMetrics(r.stdout);
    for (const name of ['hugespan_system_anon_bytes', 'hugespan_system_anon_huge_bytes', 'hugespan_system_coverage_ratio', 'hugespan_unreadable_processes']) {
      expect(m.samples.filter((s) => s.name === name)).toHaveLength(1);
    }
    const perProcess = m.samples.filter((s) => s.name === 'hugespan_anon_bytes');
    expect(perProcess.length).toBeGreaterThan(0);
    expect(perProcess.every((s) => /^\d+$/.test(s.labels.pid) && typeof s.labels.comm === 'string')).toBe(true);
  });
});
