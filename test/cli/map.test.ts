/**
 * `hugespan map`: the cells of each region are the ones its layout implies, in plain ASCII
 * when piped, wrapped at 80 columns; --min-size picks which VMAs are drawn; in colour, each
 * small cell in its reason's colour with a legend of the reasons shown.
 */
import { pagemapScanSupported } from '../../src/native/coverage';
import { cli, hostThpBlock, startTarget, range, Target, Region } from './cli';
import { itThp } from '../support/thp';
import { ASAN_REASON } from '../support/child';
import { REASON_COLOUR } from '../../src/cli/map';
import { REASONS } from '../../src/account/reasons';

let target: Target;
let out: string;
beforeAll(async () => {
  target = await startTarget();
  const r = cli(['map', '--pid', String(target.pid)]);
  expect(r).toMatchObject({ status: 0, stderr: '' });
  out = r.stdout;
});
afterAll(() => target?.stop());

/** The cell rows under the VMA line that starts with the region's range. */
function cellsOf(r: Region): string[] {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith(range(r)));
  if (at < 0) throw new Error(`no VMA line for ${range(r)} in:\n${out}`);
  const rows: string[] = [];
  for (let i = at + 1; i < lines.length && lines[i].startsWith('  ') && !lines[i].startsWith('  small frames:'); i++) rows.push(lines[i]);
  return rows;
}

/** The "small frames: N reason, …" line under a VMA's cells, if any. */
function reasonsOf(r: Region): string | undefined {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith(range(r)));
  for (let i = at + 1; i < lines.length && lines[i].startsWith('  '); i++) if (lines[i].startsWith('  small frames:')) return lines[i].trim();
  return undefined;
}

describe('map', () => {
  it('has a legend in plain characters and says where the cells come from', () => {
    expect(out).toContain(`pid ${target.pid} (node)`);
    expect(out).toMatch(/one cell = 2\.0 MiB: +H on a huge page +p present on small pages only +\. nothing present +n advised nohugepage \(nh\)/);
    expect(out).toMatch(/cells from (PAGEMAP_SCAN: exact|smaps counts: approximate)/);
    expect(out).not.toMatch(/[^\x20-\x7e\n·]/);
  });

  // Where the host rules huge pages out (enabled=never), no coverage is a measurement: "-".
  it(`the nohugepage region: 4 frames marked n, coverage ${hostThpBlock() ? '- (the host rules THP out)' : '0.0%'}`, () => {
    expect(cellsOf(target.layout.nh)).toEqual(['  nnnn']);
    if (pagemapScanSupported()) expect(reasonsOf(target.layout.nh)).toBe(`small frames: 4 ${hostThpBlock() ? 'host-thp-never' : 'vma-nohugepage'}`);
    const coverage = hostThpBlock() ? 'coverage -' : 'coverage 0\\.0%';
    expect(out).toMatch(new RegExp(`^${range(target.layout.nh)}  8\\.0 MiB  \\[anon\\]  nh  ${coverage}  0/4 frames huge$`, 'm'));
  });

  it('a VMA of more frames than a line holds wraps at 80 columns', () => {
    expect(cellsOf(target.layout.wide)).toEqual([`  ${'n'.repeat(78)}`, `  ${'n'.repeat(22)}`]);
  });

  itThp('the hugepage regions: 16 huge frames in a row; half huge, half empty', () => {
    expect(cellsOf(target.layout.huge)).toEqual([`  ${'H'.repeat(16)}`]);
    expect(cellsOf(target.layout.half)).toEqual(['  HHHH....']);
    expect(out).toMatch(new RegExp(`^${range(target.layout.half)}  16\\.0 MiB  \\[anon\\]  hg  coverage 100\\.0%  4/8 frames huge$`, 'm'));
  });

  it('--min-size takes 2MiB-style sizes and leaves out smaller VMAs', () => {
    const big = cli(['map', '--pid', String(target.pid), '--min-size', '100MiB']);
    expect(big.status).toBe(0);
    expect(big.stdout).toContain(range(target.layout.wide));
    expect(big.stdout).not.toContain(range(target.layout.huge));
    if (ASAN_REASON) return void process.stderr.write("skipping the --min-size 1G check under AddressSanitizer: the target carries the sanitizer's shadow, a 14 TiB anonymous VMA\n");
    const none = cli(['map', '--pid', String(target.pid), '--min-size', '1G']);
    expect(none.stdout).toContain('no anonymous VMA of 1.0 GiB or more');
  });
});

describe('map of a very large VMA', () => {
  itThp('an 8 GiB mapping draws in at most 8 rows, each cell standing for several frames by majority', () => {
    const { spawn } = require('node:child_process') as typeof import('node:child_process');
    const { ROOT } = require('../support/child') as typeof import('../support/child');
    // 8 GiB read/write but untouched except its first 64 MiB, advised hugepage: 4096 frames.
    const child = spawn(process.execPath, ['-e', `
      const { Mapping } = require(${JSON.stringify(ROOT)});
      const m = new Mapping(8 * 2 ** 30, { align: 'hugepage', commit: true });
      m.advise('hugepage');
      m.touch(0, 64 << 20);
      console.log(JSON.stringify({ address: m.address }));
      setInterval(() => {}, 1000);`]);
    return new Promise<void>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => {
        try {
          const { address } = JSON.parse(String(d));
          const r = cli(['map', '--pid', String(child.pid), '--min-size', '1G']);
          expect(r.status).toBe(0);
          const lines = r.stdout.split('\n');
          const at = lines.findIndex((l) => l.startsWith(address.toString(16)));
          expect(lines[at]).toMatch(/ 8\.0 GiB +\[anon\] +hg .* 32\/4096 frames huge, one cell = 7 frames \(14\.0 MiB\), by majority$/);
          const rows = lines.slice(at + 1).filter((l, i, a) => l.startsWith('  ') && a.slice(0, i).every((x) => x.startsWith('  ')));
          expect(rows.length).toBeLessThanOrEqual(8);
          // 32 huge frames = 4 whole cells of 7 frames plus one of 4 huge of 7: five H, then empty.
          expect(rows.map((row) => row.trim()).join('')).toMatch(/^HHHHH\.+$/);
          resolve();
        } catch (e) {
          reject(e);
        } finally {
          child.kill();
        }
      });
    });
  });
});

describe('map in colour: small cells by reason', () => {
  let off: Target;
  let coloured: string;
  beforeAll(async () => {
    // THP off for the target (prctl): every present frame is small for one reason, whatever the host.
    off = await startTarget({ thpDisabled: true });
    const r = cli(['map', '--pid', String(off.pid)], { env: { FORCE_COLOR: '1' } });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    coloured = r.stdout;
  });
  afterAll(() => off?.stop());

  const sgr = (code: number, s: string) => `\x1b[${code}m${s}\x1b[39m`;
  const rowsOf = (r: Region): string[] => {
    const lines = coloured.split('\n');
    const at = lines.findIndex((l) => l.includes(range(r)));
    const rows: string[] = [];
    for (let i = at + 1; i < lines.length && lines[i].startsWith('  ') && !lines[i].includes('small frames:'); i++) rows.push(lines[i]);
    return rows;
  };

  it("each small cell is painted in its reason's colour, and the legend lists only that reason", () => {
    const p = sgr(REASON_COLOUR['process-thp-disabled'], 'p');
    expect(rowsOf(off.layout.huge)).toEqual([`  ${p.repeat(16)}`]);
    // Half touched: four small frames, then four empty (dim) ones.
    expect(rowsOf(off.layout.half)).toEqual([`  ${p.repeat(4)}${`\x1b[2m.\x1b[22m`.repeat(4)}`]);
    // nh cells keep their own colour: they are nh, not small.
    expect(rowsOf(off.layout.nh)).toEqual([`  ${sgr(31, 'n').repeat(4)}`]);
    const legends = coloured.split('\n').filter((l) => l.startsWith('small cells by reason:'));
    expect(legends).toEqual([`small cells by reason:  ${p} process-thp-disabled`]);
  });

  it('piped without colour there is no reason legend and small cells are plain p', () => {
    const plain = cli(['map', '--pid', String(off.pid)]);
    expect(plain.stdout).not.toContain('small cells by reason');
    expect(plain.stdout).not.toContain('\x1b[');
    expect(cellsOfIn(plain.stdout, off.layout.huge)).toEqual([`  ${'p'.repeat(16)}`]);
  });

  it('every reason has a colour of its own, none of them the huge cells\' green', () => {
    const codes = REASONS.map((r) => REASON_COLOUR[r.code]);
    expect(new Set(codes).size).toBe(REASONS.length);
    expect(codes).not.toContain(32);
  });
});

function cellsOfIn(text: string, r: Region): string[] {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.startsWith(range(r)));
  const rows: string[] = [];
  for (let i = at + 1; i < lines.length && lines[i].startsWith('  ') && !lines[i].startsWith('  small frames:'); i++) rows.push(lines[i]);
  return rows;
}
