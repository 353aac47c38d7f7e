/**
 * What a person at a terminal sees: tables that fit COLUMNS (folded, never wrapped), watched
 * frames cut to the screen's height with the headline kept, words in their number, and the
 * small promises of --help and the README (--version after any command, --count, the schema).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { CLI, cli, hasScript, startTarget, Target } from './cli';
import { SCHEMA } from '../../src/account/schema';
import { cgroupReport, systemReport } from '../../src/account/report';
import { renderCgroupTable, renderSystemTable } from '../../src/cli/report-text';
import { fitHeight } from '../../src/cli/output';
import { foldText, palette, plural, renderTable, visibleWidth } from '../../src/cli/ui';

const version = (JSON.parse(fs.readFileSync(`${__dirname}/../../package.json`, 'utf8')) as { version: string }).version;
const plain = palette(false);

let target: Target | undefined;
beforeAll(async () => {
  target = await startTarget();
});
afterAll(() => target?.stop());

/** The memory cgroup this test runs in (v2 unified, else v1's memory controller), if it has memory.stat. */
function ownCgroup(): string | undefined {
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  const v2 = lines.find((l) => l.startsWith('0::'));
  const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes('memory'));
  const dir = v2 && fs.existsSync('/sys/fs/cgroup/cgroup.controllers') ? `/sys/fs/cgroup${v2.slice(3)}` : v1 ? `/sys/fs/cgroup/memory${v1.split(':')[2]}` : undefined;
  return dir && fs.existsSync(`${dir}/memory.stat`) ? dir : undefined;
}

describe('tables fit COLUMNS', () => {
  const views: [string, () => string[]][] = [
    ['report --pid', () => ['report', '--pid', String(target!.pid), '--all']],
    ['why', () => ['why', '--pid', String(target!.pid), '--all']],
    ['report (host view)', () => ['report']],
  ];
  for (const cols of [40, 60]) {
    for (const [name, args] of views) {
      it(`${name} at COLUMNS=${cols}: no line is wider`, () => {
        const r = cli(args(), { env: { COLUMNS: String(cols) } });
        expect(r.status).toBe(0);
        const wide = r.stdout.split('\n').filter((l) => visibleWidth(l) > cols);
        expect(wide).toEqual([]);
        // Folding kept the content: the process's biggest VMA range is still there, whole.
        if (name !== 'report (host view)') expect(r.stdout).toContain(target!.layout.wide.start.toString(16));
      });
    }
  }

  it('piped without COLUMNS, a table is not folded (a pipe does not wrap)', () => {
    const r = cli(['why', '--pid', String(target!.pid)], { env: { COLUMNS: undefined } });
    expect(r.stdout.split('\n').some((l) => visibleWidth(l) > 80)).toBe(true);
  });

  it('renderTable folds the last column under itself, and falls back to a block per row', () => {
    const cols = [{ title: 'range' }, { title: 'size', align: 'right' as const }, { title: 'path' }];
    const rows = [['7f00-7f10', '1.0 MiB', '/a/very/long/path/that/does/not/fit/in/a/narrow/terminal.so']];
    const folded = renderTable(cols, rows, { header: false, width: 40 }).split('\n');
    expect(folded.length).toBeGreaterThan(1);
    expect(folded.every((l) => visibleWidth(l) <= 40)).toBe(true);
    expect(folded.map((l) => l.trim()).join('')).toContain('terminal.so');
    const blocks = renderTable(cols, rows, { header: plain.bold, width: 12 }).split('\n');
    expect(blocks.every((l) => visibleWidth(l) <= 12)).toBe(true);
    expect(blocks[0]).toBe('7f00-7f10');
    const colour = palette(true);
    const pieces = foldText(colour.dim('aaaa bbbb cccc'), 5);
    expect(pieces.map(visibleWidth)).toEqual([4, 4, 4]);
  });
});

describe('--watch on a terminal', () => {
  const gate = hasScript ? it : it.skip;
  if (!hasScript) it('skips: script(1) is not here to give the CLI a real terminal', () => undefined);

  gate('each frame is cut to the screen, headline first, saying what was cut', () => {
    const command = `stty rows 12 cols 100 && exec '${process.execPath}' '${CLI}' report --all --watch 0.2 --count 2`;
    const out = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 50000, env: { ...process.env, NO_COLOR: '1', COLUMNS: undefined, LINES: undefined } }).stdout;
    const frames = out.split('\x1b[H').slice(1);
    expect(frames.length).toBe(2);
    for (const f of frames) {
      const lines = f.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').split(/\r?\n/).filter((l, i, a) => i < a.length - 1 || l);
      expect(lines.length).toBeLessThanOrEqual(11);
      expect(lines[0]).toMatch(/^system /);
      expect(lines[lines.length - 1]).toMatch(/more lines? below the screen's 12 rows/);
    }
  });

  it("fitHeight keeps what fits, counts wide lines as the rows they take, and leaves short text alone", () => {
    expect(fitHeight('a\nb\n', 3, 80)).toBe('a\nb\n');
    const cut = fitHeight(`${'x'.repeat(100)}\nb\nc\nd\n`, 4, 50);
    expect(cut.split('\n')[0]).toBe('x'.repeat(100));
    expect(cut).toContain('… 3 more lines');
  });
});

describe('words and promises', () => {
  it('--version after any command prints the version', () => {
    for (const c of ['report', 'why', 'map', 'collapse', 'serve', 'lab']) {
      const r = cli([c, '--version']);
      expect([c, r.status, r.stdout.trim()]).toEqual([c, 0, version]);
    }
  });

  it('--count is for --watch only; --help documents it and the schema that JSON carries', () => {
    const r = cli(['report', '--count', '2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--count only means something with --watch');
    const help = cli(['report', '--help']).stdout;
    expect(help).toContain('--count N');
    expect(help).toContain(`schema ${SCHEMA}`);
    expect(JSON.parse(cli(['report', '--pid', String(target!.pid), '--json']).stdout).schema).toBe(SCHEMA);
  });

  it('plural() and the host view say "1 process", never "all 1 processes"', () => {
    expect([plural(1, 'more VMA'), plural(2, 'more VMA'), plural(1, 'process', 'processes'), plural(0, 'process', 'processes')]).toEqual(['1 more VMA', '2 more VMAs', '1 process', '0 processes']);
    const r = systemReport({ all: true });
    const one = renderSystemTable({ ...r, processes: r.processes.slice(0, 1), readable: 1, unreadable: 1 }, { paint: plain, width: 80 });
    expect(one).toContain('the one process by anonymous memory');
    expect(one).toContain('1 more process not readable');
    expect(one).not.toMatch(/all 1 processes|1 more processes/);
  });

  it('the unreadable footnote names the real cause for who is running', () => {
    const r = systemReport({ all: false });
    const text = renderSystemTable({ ...r, unreadable: 2 }, { paint: plain, width: 80 });
    const capEff = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'))![1]}`);
    if (capEff & (1n << 19n)) expect(text).toContain('refused even with CAP_SYS_PTRACE');
    else if (process.geteuid!() === 0) expect(text).toContain('no CAP_SYS_PTRACE');
    else expect(text).toContain('run as their user or root');
  });

  const cg = ownCgroup();
  (cg ? it : it.skip)(`report --cgroup lists the top 10 processes, and every one with --all${cg ? '' : ' (skipped: this test runs in no memory cgroup with memory.stat)'}`, () => {
    const r = cgroupReport(cg!);
    const many = { ...r, processes: Array.from({ length: 15 }, (_, i) => ({ ...r.processes[0], pid: 100000 + i, anonymous: (i + 1) * 4096 })) };
    const top = renderCgroupTable(many, { paint: plain });
    expect(top).toContain('top 10 of 15 processes in it');
    expect(top).toContain('… 5 more processes holding 60.0 KiB anonymous (--all lists them)');
    expect(top).toContain('100014');
    expect(top).not.toContain('100000 ');
    const all = renderCgroupTable(many, { paint: plain, all: true });
    expect(all).toContain('15 processes in it');
    expect(all).toContain('100000 ');
  });
});
