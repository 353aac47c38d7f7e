/**
 * npm run test:runtimes: on the real runtimes of this host, (a) hugespan names the right owner
 * for what each workload allocated (>= 95 % of it, and not much more), and (b) the fix hugespan
 * prints for that owner, applied, raises the owner's bytes on huge pages (PAGEMAP_SCAN truth).
 * Invariant: every number asserted is the kernel's, read by the same processReport `report`
 * uses; a runtime missing here skips with the reason. OWNERS_RECORD=1 also records each
 * workload's /proc snapshot into test/fixtures/owners/ for the unit tests.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { processReport } from '../../src/account/report';
import { ownerSnapshot, fixEnv, FIXES, Owner } from '../../src/account/owners';
import type { ProcessReport } from '../../src/account/schema';
import { hostInfo } from '../../src/native/host';
import { exactReason, itUnless } from '../support/thp';
import { WORKLOADS, Workload, start, stop } from './workloads';

const MiB = 1 << 20;
const FIXTURES = path.join(__dirname, '..', 'fixtures', 'owners');
const RESULTS = process.env.OWNERS_RESULTS ?? path.join('/tmp', 'hugespan-runtimes-results.json');
const enabled = hostInfo().thp.enabled;
/** A fix's effect shows only where memory is not huge without it: enabled=madvise. */
const fixReason = exactReason ?? (enabled === 'madvise' ? undefined : `THP enabled=${enabled}: a fix's effect is told apart only under enabled=madvise (this test never changes it)`);

interface Row {
  workload: string;
  owner: Owner;
  runtime: string;
  allocated: number;
  attributed?: number;
  total?: number;
  unknown?: number;
  fix?: string;
  hugeBefore?: number;
  hugeAfter?: number;
  rssBefore?: number;
  rssAfter?: number;
}
const rows = new Map<string, Row>();

function bytesOf(r: ProcessReport, owners: Owner[]): { anonymous: number; huge: number } {
  let anonymous = 0;
  let huge = 0;
  for (const t of r.owners?.byOwner ?? []) {
    if (!owners.includes(t.owner)) continue;
    anonymous += t.anonymous;
    huge += t.anonHugePages;
  }
  return { anonymous, huge };
}

async function measure(w: Workload, env: Record<string, string> = {}, record = false): Promise<ProcessReport> {
  const child = await start(w, env);
  try {
    const r = processReport(child.pid!, { exact: true });
    if (record) {
      const snapshot = ownerSnapshot(child.pid!);
      const anon: Record<string, number> = {};
      for (const v of r.vmas) anon[v.start] = v.anonymous;
      fs.mkdirSync(FIXTURES, { recursive: true });
      fs.writeFileSync(path.join(FIXTURES, `${w.name}.json`), `${JSON.stringify({ workload: w.name, owner: w.owner, allocated: w.allocated, snapshot, anon })}\n`);
    }
    return r;
  } finally {
    await stop(child);
  }
}

const runtimeOf = (r: ProcessReport): string => (r.owners?.runtimes ?? []).map((x) => `${x.name}${x.version ? ` ${x.version}` : ''}`).join(', ');

afterAll(() => {
  const all = [...rows.values()];
  fs.writeFileSync(RESULTS, `${JSON.stringify(all, null, 2)}\n`);
  const m = (n: number | undefined): string => (n === undefined ? '-' : `${(n / MiB).toFixed(1)}`);
  const lines = ['| workload | runtime | owner | allocated MiB | attributed MiB | fix | huge before MiB | huge after MiB | RSS before → after MiB |', '|---|---|---|---|---|---|---|---|---|'];
  for (const r of all) lines.push(`| ${r.workload} | ${r.runtime} | ${r.owner} | ${m(r.allocated)} | ${m(r.attributed)} | ${r.fix ?? '-'} | ${m(r.hugeBefore)} | ${m(r.hugeAfter)} | ${m(r.rssBefore)} → ${m(r.rssAfter)} |`);
  process.stderr.write(`\n${lines.join('\n')}\n(results: ${RESULTS})\n`);
});

for (const w of WORKLOADS) {
  const missing = w.missing();
  describe(w.name, () => {
    itUnless(missing, `names ${w.owner} for >= 95 % of the ${w.allocated / MiB} MiB it allocated, and not much more`, async () => {
      const r = await measure(w, {}, process.env.OWNERS_RECORD === '1');
      const mine = bytesOf(r, [w.owner]).anonymous;
      const unknown = bytesOf(r, ['unknown']).anonymous;
      rows.set(w.name, { ...(rows.get(w.name) ?? { workload: w.name, owner: w.owner, allocated: w.allocated }), runtime: runtimeOf(r), attributed: mine, total: r.totals.anonymous, unknown });
      expect(r.owners).toBeDefined();
      expect(mine).toBeGreaterThanOrEqual(0.95 * w.allocated);
      // Not more than the workload's own overhead: an owner that swallowed other memory fails.
      expect(mine).toBeLessThanOrEqual(1.6 * w.allocated + 32 * MiB);
      expect(unknown).toBeLessThan(0.05 * r.totals.anonymous);
      // Every VMA says who made it and why.
      for (const v of r.vmas) expect(v.owner?.evidence.length).toBeGreaterThan(0);
      // A runtime with no rules here is named by none: only the allocator underneath shows.
      if (w.name === 'perl') expect((r.owners?.runtimes ?? []).map((x) => x.name)).toEqual(['glibc']);
    }, 180000);

    itUnless(missing ?? fixReason, `the fix hugespan prints for ${w.owner} raises its bytes on huge pages, or says no knob exists`, async () => {
      const before = await measure(w);
      const printed = (before.owners?.fixes ?? []).filter((f) => f.owners.includes(w.owner));
      expect(printed.length).toBeGreaterThan(0);
      const row = rows.get(w.name) ?? { workload: w.name, owner: w.owner, allocated: w.allocated, runtime: runtimeOf(before) };
      const knobs = printed.filter((f) => f.env !== null);
      if (!knobs.length) {
        // A statement, not a knob: it must say so.
        for (const f of printed) expect(f.action).toMatch(/^no knob|^nothing to set/);
        rows.set(w.name, { ...row, fix: 'none (no knob)', hugeBefore: bytesOf(before, [w.owner]).huge, rssBefore: before.totals.rss });
        return;
      }
      const fixes = FIXES.filter((f) => knobs.some((k) => k.action === f.action));
      const env = fixEnv(fixes, process.env);
      const moved: Owner[] = [w.owner, ...fixes.flatMap((f) => f.movesTo ?? [])];
      const after = await measure(w, env);
      const hugeBefore = bytesOf(before, [w.owner]).huge;
      const hugeAfter = bytesOf(after, moved).huge;
      rows.set(w.name, { ...row, fix: Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' '), hugeBefore, hugeAfter, rssBefore: before.totals.rss, rssAfter: after.totals.rss });
      // A fix that moves a quarter of what was allocated onto huge pages, at least.
      expect(hugeAfter - hugeBefore).toBeGreaterThanOrEqual(0.25 * w.allocated);
    }, 300000);
  });
}
