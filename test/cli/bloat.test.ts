/**
 * `report --bloat` and `why --bloat` on a process whose zero subpages are known: it maps a
 * hugepage region, writes a known set of its 4 KiB subpages (some only at their first byte, some
 * only at their last, so a scan that stops early or looks at one word is caught), makes it huge
 * (faulted huge, or small pages then MADV_COLLAPSE: the kernel fills the holes with zeros), and
 * the count must be exactly the subpages it did not write.
 */
import { spawn, ChildProcess } from 'node:child_process';
import { cli, H } from './cli';
import { itUnless, exactReason } from '../support/thp';
import { ROOT } from '../support/child';

const PAGE = 4096;
const FRAMES = 4;

// Frames 0-1: advised hugepage and faulted in (huge at the first touch where the kernel can);
// frames 2-3: touched while nohugepage, then advised hugepage and collapsed. Frame f has its
// subpages k with k % (f + 2) == 0 written: at the first byte for even k, the last for odd k.
const TARGET = `
  const { Mapping, setThpDisabledForSelf } = require(${JSON.stringify(ROOT)});
  setThpDisabledForSelf(false);
  const H = ${H}, P = ${PAGE}, F = ${FRAMES};
  const m = new Mapping((F + 2) * H, { align: 'hugepage', commit: true });
  m.advise('hugepage', H, 2 * H);
  m.advise('nohugepage', 3 * H, 2 * H);
  let written = 0;
  const bytes = m.view(H, F * H);
  for (let f = 0; f < F; f++) {
    for (let k = 0; k < H / P; k += f + 2) {
      bytes[f * H + k * P + (k % 2 ? P - 1 : 0)] = 0x5a;
      written++;
    }
  }
  m.advise('hugepage', 3 * H, 2 * H);
  let collapse = 'ok';
  try { m.advise('collapse', H, F * H); } catch (e) { collapse = e.code; }
  console.log(JSON.stringify({ start: m.address + H, end: m.address + (F + 1) * H, written, collapse }));
  process.stdin.on('end', () => process.exit(0)).resume();
`;

let child: ChildProcess;
let region: { start: number; end: number; written: number; collapse: string };
beforeAll(async () => {
  child = spawn(process.execPath, ['-e', TARGET], { stdio: ['pipe', 'pipe', 'inherit'] });
  region = await new Promise((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`target exited ${c}`)));
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
    });
  });
}, 30000);
afterAll(() => child?.kill('SIGKILL'));

const expectedZero = (): number => {
  let zero = 0;
  for (let f = 0; f < FRAMES; f++) zero += H / PAGE - Math.ceil(H / PAGE / (f + 2));
  return zero;
};

interface BloatVma {
  start: string;
  end: string;
  thps: number;
  thpsRead: number;
  zeroPages: number;
  zeroBytes: number;
  origin: string;
}

/** The bloat VMAs inside the target's region, summed. */
function ours(vmas: BloatVma[]): { thps: number; thpsRead: number; zeroPages: number; zeroBytes: number; origins: string[] } {
  const inside = vmas.filter((v) => Number(v.start) >= region.start && Number(v.end) <= region.end);
  const sum = (k: 'thps' | 'thpsRead' | 'zeroPages' | 'zeroBytes') => inside.reduce((n, v) => n + v[k], 0);
  return { thps: sum('thps'), thpsRead: sum('thpsRead'), zeroPages: sum('zeroPages'), zeroBytes: sum('zeroBytes'), origins: [...new Set(inside.map((v) => v.origin))] };
}

describe('--bloat', () => {
  itUnless(exactReason, 'counts exactly the subpages nothing wrote, per VMA and by origin; JSON and table agree', () => {
    const r = cli(['report', '--pid', String(child.pid), '--bloat', '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout);
    // The region is one VMA or two (the kernel need not merge the re-advised half back): sum them.
    const vma = ours(j.bloat.vmas);
    // The kernel may fail to allocate a huge page (ENOMEM under fragmentation): say so, not a wrong count.
    expect({ collapse: region.collapse, thps: vma.thps }).toEqual({ collapse: 'ok', thps: FRAMES });
    expect(region.written + expectedZero()).toBe((FRAMES * H) / PAGE);
    expect(vma).toMatchObject({ thpsRead: FRAMES, zeroPages: expectedZero(), zeroBytes: expectedZero() * PAGE, origins: ['advised-hugepage'] });
    expect(j.bloat.complete).toBe(true);
    expect(j.bloat.byOrigin['advised-hugepage'].zeroPages).toBeGreaterThanOrEqual(expectedZero());
    const sum = j.bloat.vmas.reduce((n: number, v: { zeroPages: number }) => n + v.zeroPages, 0);
    expect(j.bloat.zeroPages).toBe(sum);
    expect(j.bloat.bytesRead).toBe(j.bloat.thpsRead * H);
    // why --bloat: the same count.
    const w = JSON.parse(cli(['why', '--pid', String(child.pid), '--bloat', '--json']).stdout);
    expect(ours(w.bloat.vmas).zeroPages).toBe(expectedZero());
    const t = cli(['report', '--pid', String(child.pid), '--bloat']);
    expect(t.status).toBe(0);
    expect(t.stdout).toContain('zero subpages in PMD-mapped THPs');
    expect(t.stdout).toContain(region.start.toString(16));
  });

  itUnless(exactReason, 'the budget bounds the read: THPs past it are unread, never guessed', () => {
    const j = JSON.parse(cli(['report', '--pid', String(child.pid), '--bloat', '--bloat-budget', String(2 * H), '--json']).stdout);
    expect(j.bloat.bytesRead).toBeLessThanOrEqual(2 * H);
    expect(j.bloat.thpsRead).toBeLessThanOrEqual(2);
    expect(j.bloat.complete).toBe(j.bloat.thps <= 2);
  });

  it('usage: --bloat needs --pid and a table or JSON; --bloat-budget needs --bloat', () => {
    expect(cli(['report', '--bloat']).status).toBe(2);
    expect(cli(['report', '--pid', String(child.pid), '--bloat', '--format', 'openmetrics']).status).toBe(2);
    expect(cli(['report', '--pid', String(child.pid), '--bloat-budget', '1M']).status).toBe(2);
    expect(cli(['report', '--pid', String(child.pid), '--bloat', '--bloat-budget', 'lots']).status).toBe(2);
  });
});
