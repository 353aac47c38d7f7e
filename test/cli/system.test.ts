/**
 * `hugespan report` without --pid: the host's settings, meminfo and vmstat figures, and the
 * processes ranked by anonymous memory — the target among them with the memory it holds;
 * with --watch, the table's vmstat counters as rates after the first frame.
 */
import * as fs from 'node:fs';
import { cli, cliJson, startTarget, Target } from './cli';
import { parseOpenMetrics } from './openmetrics';
import { itThp, MiB } from '../support/thp';
import { hugePageSize } from '../../src/native/host';
import { renderSystemTable } from '../../src/cli/report-text';
import { palette } from '../../src/cli/ui';

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

  it('--watch piped: the first frame shows counter totals, the later ones rates per second', () => {
    const r = cli(['report', '--watch', '0.2', '--count', '3']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const frames = r.stdout.split(/^(?=system {2})/m);
    expect(frames).toHaveLength(3);
    expect(frames[0]).toMatch(/^events {4}fault_alloc \d+ /m);
    expect(frames[0]).toMatch(/compact_stall \d+$/m);
    expect(frames[0]).not.toContain('/s');
    for (const f of frames.slice(1)) {
      expect(f).toMatch(/^events\/s {2}fault_alloc \d+\.\d\/s /m);
      expect(f).toMatch(/\(per second over the last \d+\.\d s\)/);
      expect(f).toMatch(/compact_stall \d+\.\d\/s$/m);
    }
  });

  it('--watch --json stays totals: every frame an integer count since boot', () => {
    const r = cli(['report', '--json', '--watch', '0.2', '--count', '2']);
    const docs = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(docs).toHaveLength(2);
    for (const d of docs) expect(Object.values(d.counters).every((n) => Number.isSafeInteger(n))).toBe(true);
    expect(docs[1].counters.thp_fault_alloc).toBeGreaterThanOrEqual(docs[0].counters.thp_fault_alloc);
  });

  it('a rate is the change over the seconds between the two reports, a missing counter "-"', () => {
    const before = { ...report, time: '2026-01-01T00:00:00.000Z', counters: { thp_fault_alloc: 100, thp_split_pmd: 7 }, compaction: { compact_stall: 10 } };
    const now = { ...report, time: '2026-01-01T00:00:04.000Z', counters: { thp_fault_alloc: 150, thp_split_pmd: 7, thp_fault_fallback: 3 }, compaction: { compact_stall: 12 } };
    const text = renderSystemTable(now, { paint: palette(false), width: 200, previous: before });
    expect(text).toMatch(/^events\/s {2}fault_alloc 12\.5\/s {2}fault_fallback - {2}split_pmd 0\.0\/s {2}\(per second over the last 4\.0 s\)$/m);
    expect(text).toMatch(/compact_stall 0\.5\/s$/m);
    // The same reading, same time: no interval, so the totals.
    expect(renderSystemTable(now, { paint: palette(false), width: 200, previous: now })).toMatch(/^events {4}fault_alloc 150 {2}fault_fallback 3 {2}split_pmd 7$/m);
  });

  it('the splits, the cost side of THP, as rates: split_pmd, deferred_split_page, underused_split_page', () => {
    const counters = (n: number) => ({ thp_split_pmd: 10 * n, thp_deferred_split_page: 20 * n, thp_underused_split_page: 2 * n });
    const before = { ...report, time: '2026-01-01T00:00:00.000Z', counters: counters(1), compaction: {} };
    const now = { ...report, time: '2026-01-01T00:00:02.000Z', counters: counters(3), compaction: {} };
    expect(renderSystemTable(now, { paint: palette(false), width: 200, previous: before })).toMatch(/^events\/s {2}split_pmd 10\.0\/s {2}deferred_split_page 20\.0\/s {2}underused_split_page 2\.0\/s {2}\(per second/m);
  });
});
