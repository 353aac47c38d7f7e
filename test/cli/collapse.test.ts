/**
 * `hugespan collapse` on a real process: the frames the accounting calls collapsible become
 * huge pages, exactly those, and nothing else of the process changes: its nohugepage region
 * stays on small pages, its contents stay what they were.
 */
import * as os from 'node:os';
import { spawn, ChildProcess } from 'node:child_process';
import { cli } from './cli';
import { itUnless, exactReason } from '../support/thp';
import { ROOT } from '../support/child';
import { hugePageSize } from '../../src/native/host';
import { processReport } from '../../src/account/report';
import { pagemapScanSupported } from '../../src/native/coverage';

const H = hugePageSize() || 2 << 20;
const [major, minor] = os.release().split('.').map(Number);
const kernelOk = major > 6 || (major === 6 && minor >= 1);
const root = process.getuid?.() === 0;
const skip = !kernelOk ? `MADV_COLLAPSE through process_madvise needs Linux >= 6.1 (this is ${os.release()})` : !root ? 'process_madvise needs CAP_SYS_NICE: run as root' : undefined;

// A process with 4 frames of small pages in a hugepage VMA (touched while nohugepage, then
// advised hugepage: collapsible, waiting for khugepaged), and 2 frames advised nohugepage.
const TARGET = `
  const { Mapping, setThpDisabledForSelf } = require(${JSON.stringify(ROOT)});
  setThpDisabledForSelf(false);
  const H = ${H}, kept = [];
  const region = (frames, advice) => {
    const m = new Mapping((frames + 2) * H, { align: 'hugepage', commit: true });
    kept.push(m);
    m.advise('nohugepage', H, frames * H);
    m.touch(H, frames * H, 7);
    if (advice) m.advise(advice, H, frames * H);
    return { start: m.address + H, end: m.address + (frames + 1) * H, sum: () => m.readPages(H, frames * H) };
  };
  const waiting = region(4, 'hugepage'), nh = region(2);
  console.log(JSON.stringify({ waiting, nh }));
  process.stdin.on('data', () => console.log(JSON.stringify({ sum: waiting.sum() })));
`;

let child: ChildProcess;
let regions: { waiting: { start: number; end: number }; nh: { start: number; end: number } };
const lines: string[] = [];
beforeAll(async () => {
  child = spawn(process.execPath, ['-e', TARGET], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`target exited ${c}`)));
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const parts = out.split('\n');
      out = parts.pop()!;
      for (const p of parts) lines.push(p);
      if (lines.length === 1 && !regions) {
        regions = JSON.parse(lines[0]);
        resolve();
      }
    });
  });
}, 30000);
afterAll(() => child?.kill('SIGKILL'));

const itCollapse = (name: string, fn: () => unknown) => itUnless(skip ?? exactReason, name, fn);

describe('collapse --pid', () => {
  itCollapse('collapses exactly the collapsible frames, leaves nohugepage alone, keeps the contents', async () => {
    const vmaOf = (r: ReturnType<typeof processReport>, g: { start: number }) => r.vmas.find((v) => Number(v.start) === g.start)!;
    const before = processReport(child.pid!, { exact: true });
    // khugepaged may have collapsed some of them since: count what is still waiting.
    const waiting = vmaOf(before, regions.waiting).frames.filter((f) => f.reason === 'collapsible-waiting').length;
    // Only the region: under THP `always` node's own memory holds collapsible frames too.
    const range = `${regions.waiting.start.toString(16)}-${regions.waiting.end.toString(16)}`;
    const r = cli(['collapse', '--pid', String(child.pid), '--range', range, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const c = JSON.parse(r.stdout);
    // khugepaged may collapse some between our read and the command's own: never more than waiting.
    expect(c.collapsed).toBeLessThanOrEqual(waiting);
    expect(c.failed).toEqual({});
    expect(c.frames.every((f: { start: string }) => Number(f.start) >= regions.waiting.start && Number(f.start) < regions.waiting.end)).toBe(true);
    if (waiting > 0) expect(c.coverageAfter).toBeGreaterThan(c.coverageBefore); // else khugepaged was first
    const after = processReport(child.pid!, { exact: true });
    expect(vmaOf(after, regions.waiting).account.pmdMapped).toBe(4 * H);
    expect(vmaOf(after, regions.nh).account).toMatchObject({ pmdMapped: 0, small: 2 * H });
    child.stdin!.write('sum\n');
    await new Promise((r) => setTimeout(r, 300));
    expect(JSON.parse(lines[lines.length - 1]).sum).toBe((4 * H) / 4096 * 7);
  });

  it('--range outside every mapping collapses nothing; a bad range is usage; without PAGEMAP_SCAN it says why', () => {
    expect(cli(['collapse', '--pid', String(child.pid), '--range', 'zz']).status).toBe(2);
    const r = cli(['collapse', '--pid', String(child.pid), '--range', '1000-2000', '--json']);
    if (!pagemapScanSupported()) {
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('collapse needs PAGEMAP_SCAN');
      return;
    }
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ collapsed: 0, frames: [] });
  });
});
