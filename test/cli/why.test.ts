/**
 * `hugespan why` as a user runs it: against a target whose regions the test laid out, the
 * reasons come out with the regions' bytes, biggest first, in the table and the JSON alike.
 */
import { cli, startTarget, Target, hostThpBlock } from './cli';
import { REASONS } from '../../src/account/reasons';

const MiB = 1 << 20;
let target: Target;
beforeAll(async () => {
  target = await startTarget();
}, 30000);
afterAll(() => target?.stop());

describe('why --pid', () => {
  it('--json: reasons biggest first, each with its VMAs; they sum to the small pages', () => {
    const r = cli(['why', '--pid', String(target.pid), '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const w = JSON.parse(r.stdout);
    expect(w).toMatchObject({ kind: 'why', pid: target.pid });
    if (w.khugepaged) {
      // khugepaged's pace over this process's eligible ranges, empty frames included: the 32 MiB
      // huge region and all 16 MiB of the half-touched one (more where node's own heap is eligible).
      const k = w.khugepaged;
      if (!hostThpBlock()) expect(k.eligibleBytes).toBeGreaterThanOrEqual(48 * MiB);
      expect(k.passSeconds).toBe(Math.round(Math.ceil(k.eligibleBytes / 4096 / k.pagesToScan) * (k.scanSleepMs / 1000)));
    }
    const bytes = w.reasons.map((x: { bytes: number }) => x.bytes);
    expect(bytes).toEqual([...bytes].sort((a, b) => b - a));
    expect(bytes.reduce((a: number, b: number) => a + b, 0)).toBe(w.account.small);
    for (const x of w.reasons) {
      expect(REASONS.map((k) => k.code)).toContain(x.reason);
      expect(x.vmas.reduce((a: number, v: { bytes: number }) => a + v.bytes, 0)).toBe(x.bytes);
    }
    const blocked = hostThpBlock();
    const nh = w.reasons.find((x: { reason: string }) => x.reason === (blocked ? 'host-thp-never' : 'vma-nohugepage'));
    expect(nh).toBeDefined();
    // The 8 MiB nohugepage region and the one touched page of the 200 MiB one.
    const regions = [target.layout.nh, target.layout.wide].map((g) => nh.vmas.find((v: { start: string }) => Number(v.start) === g.start)?.bytes);
    expect(regions).toEqual([8 * MiB, 4096]);
  });

  it('the table names each reason with its fix and the largest VMAs', () => {
    const r = cli(['why', '--pid', String(target.pid)]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`pid ${target.pid} (node)`);
    expect(r.stdout).toMatch(/^ {2}fix: /m);
    expect(r.stdout).toContain('on small pages, why');
  });

  it('without --pid, or with a bad one: usage, exit 2', () => {
    expect(cli(['why']).status).toBe(2);
    expect(cli(['why', '--pid', '0x10']).status).toBe(2);
  });
});
