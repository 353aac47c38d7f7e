/**
 * `hugespan report --pid`: its numbers equal the layout the target made, in every format, by
 * either method; --output replaces only regular files (whole) and writes devices and FIFOs
 * directly, --watch repeats, --min-coverage gates and says when there is nothing to judge.
 * Expectations follow what this host allows (hostThpBlock), never a flip of its settings.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli, cliJson, cliOnTty, CLI, hasScript, hostThpBlock, startTarget, range, Target, Region } from './cli';
import { parseOpenMetrics } from './openmetrics';
import { itExact, itThp, MiB } from '../support/thp';
import { pagemapScanSupported } from '../../src/native/coverage';

let target: Target;
beforeAll(async () => {
  target = await startTarget();
});
afterAll(() => target?.stop());

const vmaOf = (report: any, r: Region): any => report.vmas.find((v: any) => Number(v.start) === r.start);

describe('report --pid --json', () => {
  let report: any;
  beforeAll(() => {
    report = cliJson(['report', '--pid', String(target.pid)]);
  });

  it('has the schema: version, pid, THP settings, totals, VMAs with hex ranges', () => {
    expect(report).toMatchObject({ schema: 2, kind: 'process', pid: target.pid, comm: 'node', thpDisabled: false });
    expect(report.method).toBe(pagemapScanSupported() ? 'pagemap_scan' : 'smaps');
    expect(report.thp).toEqual(expect.objectContaining({ enabled: expect.any(String), hugePageSize: expect.any(Number), khugepaged: expect.any(Object) }));
    for (const v of report.vmas) {
      expect(v.start).toMatch(/^0x[0-9a-f]+$/);
      expect(v.end).toMatch(/^0x[0-9a-f]+$/);
      expect(v).toEqual(expect.objectContaining({ path: expect.any(String), anonymous: expect.any(Number), anonHugePages: expect.any(Number), vmFlags: expect.any(Array) }));
      expect(v.anonymous).toBeGreaterThan(0);
    }
    const t = report.totals;
    expect(t.anonymous).toBe(report.vmas.reduce((n: number, v: any) => n + v.anonymous, 0));
    expect(t.anonHugePages).toBe(report.vmas.reduce((n: number, v: any) => n + v.anonHugePages, 0));
    expect(t.coverage).toBeCloseTo(t.anonHugePages / t.anonymous, 12);
  });

  it('each region is exactly one VMA of the layout, with its advice flag', () => {
    const { huge, nh, half } = target.layout;
    for (const [r, flag] of [[huge, 'hg'], [nh, 'nh'], [half, 'hg']] as const) {
      const v = vmaOf(report, r);
      expect(v).toMatchObject({ start: `0x${r.start.toString(16)}`, end: `0x${r.end.toString(16)}`, size: r.end - r.start, path: '' });
      expect(v.vmFlags).toContain(flag);
    }
  });

  it('the nohugepage region: 8 MiB anonymous, none huge, not eligible, counted as nh', () => {
    expect(vmaOf(report, target.layout.nh)).toMatchObject({ anonymous: 8 * MiB, anonHugePages: 0, coverage: 0, thpEligible: false, eligibleNotHuge: 0 });
    expect(report.totals.noHugePage).toBeGreaterThanOrEqual(8 * MiB + 4096);
  });

  itThp('the hugepage regions: all 32 MiB huge; of the half-touched one, 8 MiB present and all huge', () => {
    expect(vmaOf(report, target.layout.huge)).toMatchObject({ anonymous: 32 * MiB, anonHugePages: 32 * MiB, coverage: 1, thpEligible: true, eligibleNotHuge: 0 });
    expect(vmaOf(report, target.layout.half)).toMatchObject({ anonymous: 8 * MiB, anonHugePages: 8 * MiB, coverage: 1, thpEligible: true });
    expect(report.totals.anonHugePages).toBeGreaterThanOrEqual(40 * MiB);
  });

  itExact('--no-exact (smaps AnonHugePages) agrees with the exact method on every region', () => {
    const smaps = cliJson(['report', '--pid', String(target.pid), '--no-exact']);
    expect(smaps.method).toBe('smaps');
    for (const r of Object.values(target.layout)) expect(vmaOf(smaps, r).anonHugePages).toBe(vmaOf(report, r).anonHugePages);
  });

  it('--format json is --json', () => {
    const r = cli(['report', '--pid', String(target.pid), '--format', 'json']);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ schema: 2, pid: target.pid });
  });
});

describe('report --pid as a table', () => {
  it('shows the settings, the method, the totals and the regions by size', () => {
    const r = cli(['report', '--pid', String(target.pid)]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const out = r.stdout;
    expect(out).toContain(`pid ${target.pid} (node)`);
    expect(out).toMatch(/THP enabled=\w+ defrag=\S+ · huge page 2\.0 MiB/);
    expect(out).toContain(pagemapScanSupported() ? 'PAGEMAP_SCAN' : 'smaps AnonHugePages');
    for (const label of ['anonymous', 'on huge pages', 'on PMD huge pages', 'in THPs mapped by PTEs', 'on small pages, why']) expect(out).toContain(label);
    const rows = out.split('\n');
    const row = (r: Region) => rows.findIndex((l) => l.startsWith(range(r)));
    // By size: 200 MiB, 32 MiB, 16 MiB, 8 MiB.
    const { wide, huge, half, nh } = target.layout;
    expect([row(wide), row(huge), row(half), row(nh)].every((i, k, a) => i >= 0 && (k === 0 || a[k - 1] < i))).toBe(true);
    expect(rows[row(nh)]).toMatch(/8\.0 MiB\s+8\.0 MiB\s+0 B\s+0\.0%\s+nh\s+mmap\s+\[anon\]$/);
  });

  itThp('the fully huge region reads 100% with its flags', () => {
    const out = cli(['report', '--pid', String(target.pid)]).stdout;
    expect(out).toMatch(new RegExp(`^${range(target.layout.huge)}\\s+32\\.0 MiB\\s+32\\.0 MiB\\s+32\\.0 MiB\\s+100\\.0%\\s+hg eligible\\s+mmap\\s+\\[anon\\]$`, 'm'));
  });
});

describe('report --format openmetrics', () => {
  it('parses: HELP and TYPE before samples, pid and comm labels, # EOF last', () => {
    const r = cli(['report', '--pid', String(target.pid), '--format', 'openmetrics']);
    expect(r.status).toBe(0);
    const m = parseOpenMetrics(r.stdout);
    for (const name of ['hugespan_process_anonymous_bytes', 'hugespan_process_pmd_mapped_bytes', 'hugespan_process_coverage_ratio', 'hugespan_process_nohugepage_bytes', 'hugespan_process_eligible_not_huge_bytes']) {
      expect(m.types[name]).toBe('gauge');
      expect(m.samples.filter((s) => s.name === name)).toEqual([{ name, labels: { pid: String(target.pid), comm: 'node' }, value: expect.any(Number) }]);
    }
    const value = (name: string) => m.samples.find((s) => s.name === name)!.value;
    expect(value('hugespan_process_coverage_ratio')).toBeCloseTo(value('hugespan_process_pmd_mapped_bytes') / value('hugespan_process_anonymous_bytes'), 12);
    expect(value('hugespan_process_nohugepage_bytes')).toBeGreaterThanOrEqual(8 * MiB);
  });

  it('--output writes the file whole (temp file + rename) and nothing to stdout', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-om-'));
    try {
      const file = path.join(dir, 'hugespan.prom');
      fs.writeFileSync(file, 'old content\n');
      const r = cli(['report', '--pid', String(target.pid), '--format', 'openmetrics', '--output', file]);
      expect(r).toMatchObject({ status: 0, stdout: '', stderr: '' });
      expect(parseOpenMetrics(fs.readFileSync(file, 'utf8')).samples.length).toBeGreaterThanOrEqual(5);
      expect(fs.readdirSync(dir)).toEqual(['hugespan.prom']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('--output into a directory that does not exist: refused before reading, naming the directory (not a temp file), exit 2', () => {
    const r = cli(['report', '--pid', String(target.pid), '--output', '/nonexistent-dir/x.prom']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^hugespan: --output \/nonexistent-dir\/x\.prom: its directory \/nonexistent-dir does not exist[^\n]*\n/);
    expect(r.stderr).not.toMatch(/\.tmp/);
  });
});

describe('--output: what is at FILE decides how it is written', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-out-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const report = (output: string, ...more: string[]) => cli(['report', '--pid', String(target.pid), '--format', 'openmetrics', '--output', output, ...more], { cwd: dir });

  it('a FIFO is written into, not replaced by a regular file', async () => {
    const fifo = path.join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const reader = spawn('cat', [fifo]);
    let got = '';
    reader.stdout.on('data', (c: Buffer) => (got += c));
    const closed = new Promise((resolve) => reader.on('close', resolve));
    const r = report(fifo);
    // Had the FIFO been renamed over, cat would wait for a writer forever.
    const timer = setTimeout(() => reader.kill(), 3000);
    await closed;
    clearTimeout(timer);
    expect(r).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
    expect(parseOpenMetrics(got).samples.length).toBeGreaterThanOrEqual(5);
    expect(fs.readdirSync(dir)).toEqual(['fifo']);
  });

  // A character device of our own (a copy of /dev/null's node, 1:3) in a temp dir, so that a
  // regression would replace that copy, never the host's /dev/null.
  const mknod = (() => {
    const probe = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-mknod-'));
    try {
      const made = spawnSync('mknod', [path.join(probe, 'null'), 'c', '1', '3']);
      if (made.status !== 0) return `cannot make a device node (${String(made.stderr).trim() || made.error?.message}): not root, or no CAP_MKNOD`;
      return spawnSync('sh', ['-c', `echo x > ${path.join(probe, 'null')}`]).status === 0 ? undefined : `${os.tmpdir()} does not allow devices (nodev)`;
    } finally {
      fs.rmSync(probe, { recursive: true, force: true });
    }
  })();
  (mknod ? it.skip : it)(`a character device is written into and stays a device${mknod ? ` [skipped: ${mknod}]` : ''}`, () => {
    const dev = path.join(dir, 'null');
    expect(spawnSync('mknod', [dev, 'c', '1', '3']).status).toBe(0);
    expect(report(dev)).toMatchObject({ status: 0, stdout: '', stderr: '' });
    const st = fs.lstatSync(dev);
    expect(st.isCharacterDevice()).toBe(true);
    expect(st.rdev).toBe(fs.statSync('/dev/null').rdev);
    expect(fs.readdirSync(dir)).toEqual(['null']);
  });

  it.each([
    ['a directory', (d: string) => fs.mkdirSync(path.join(d, 'out')), 'is a directory'],
    ['a symlink to a directory', (d: string) => fs.symlinkSync(d, path.join(d, 'out')), `is a symlink to DIR, a directory`],
    ['a symlink to nothing', (d: string) => fs.symlinkSync(path.join(d, 'gone'), path.join(d, 'out')), 'is a symlink to nothing (DIR/gone)'],
  ])('%s is refused: exit 2, one line, nothing changed', (_, make, why) => {
    make(dir);
    const before = fs.readdirSync(dir).map((f) => [f, fs.lstatSync(path.join(dir, f)).mode]);
    const out = path.join(dir, 'out');
    expect(report(out)).toEqual({
      status: 2,
      stdout: '',
      stderr: `hugespan: --output ${out} ${why.replace('DIR', fs.realpathSync(dir))}; name a file, a device or a FIFO\nTry 'hugespan report --help'.\n`,
    });
    expect(fs.readdirSync(dir).map((f) => [f, fs.lstatSync(path.join(dir, f)).mode])).toEqual(before);
  });

  it('a symlink to a regular file: the file is replaced whole, the link and the mode stay', () => {
    const file = path.join(dir, 'real.prom');
    fs.writeFileSync(file, 'old\n', { mode: 0o600 });
    fs.symlinkSync(file, path.join(dir, 'link.prom'));
    expect(report(path.join(dir, 'link.prom'))).toMatchObject({ status: 0, stdout: '', stderr: '' });
    expect(fs.lstatSync(path.join(dir, 'link.prom')).isSymbolicLink()).toBe(true);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(parseOpenMetrics(fs.readFileSync(file, 'utf8')).samples.length).toBeGreaterThanOrEqual(5);
    expect(fs.readdirSync(dir).sort()).toEqual(['link.prom', 'real.prom']);
  });

  it('--watch with OpenMetrics into a FIFO is refused before the FIFO is opened', () => {
    const fifo = path.join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    // No reader: had it been opened for writing, this would wait until the timeout.
    const r = report(fifo, '--watch', '0.1', '--count', '2');
    expect(r).toEqual({
      status: 2,
      stdout: '',
      stderr: `hugespan: --watch with --format openmetrics needs --output FILE, rewritten whole each time: back-to-back documents on ${fifo} (a device or FIFO) are not valid OpenMetrics\nTry 'hugespan report --help'.\n`,
    });
    expect(fs.lstatSync(fifo).isFIFO()).toBe(true);
  });

  it("'-' is standard output, not a file named '-'", () => {
    const r = cli(['report', '--pid', String(target.pid), '--json', '--output', '-'], { cwd: dir });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toMatchObject({ schema: 2, pid: target.pid });
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});

describe('--watch with OpenMetrics: one document wherever it is read', () => {
  it.each([[[]], [['--output', '-']]])('to standard output (%j): refused, exit 2, nothing written', (more) => {
    // In a directory of its own: were '-' taken as a file name, it would land there.
    const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-watch-'));
    const r = cli(['report', '--pid', String(target.pid), '--format', 'openmetrics', '--watch', '0.1', '--count', '2', ...more], { cwd });
    const left = fs.readdirSync(cwd);
    fs.rmSync(cwd, { recursive: true, force: true });
    expect(left).toEqual([]);
    expect(r).toEqual({
      status: 2,
      stdout: '',
      stderr: "hugespan: --watch with --format openmetrics needs --output FILE, rewritten whole each time: back-to-back documents on standard output are not valid OpenMetrics\nTry 'hugespan report --help'.\n",
    });
  });

  it('to a file: rewritten whole each tick, a single valid document whenever it is read', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-watch-'));
    try {
      const file = path.join(dir, 'hugespan.prom');
      const child = spawn(process.execPath, [CLI, 'report', '--pid', String(target.pid), '--format', 'openmetrics', '--watch', '0.1', '--count', '8', '--output', file]);
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c));
      const documents: string[] = [];
      const reading = setInterval(() => {
        if (fs.existsSync(file)) documents.push(fs.readFileSync(file, 'utf8'));
      }, 15);
      const status = await new Promise((resolve) => child.on('close', resolve));
      clearInterval(reading);
      expect({ status, stderr }).toEqual({ status: 0, stderr: '' });
      documents.push(fs.readFileSync(file, 'utf8'));
      expect(documents.length).toBeGreaterThan(8);
      for (const text of documents) expect(parseOpenMetrics(text).samples.length).toBeGreaterThanOrEqual(5);
      expect(fs.readdirSync(dir)).toEqual(['hugespan.prom']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('report --watch and --min-coverage', () => {
  it('--watch appends one JSON document per line when piped (--count stops it)', () => {
    const r = cli(['report', '--pid', String(target.pid), '--json', '--watch', '0.1', '--count', '3']);
    expect(r.status).toBe(0);
    const frames = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(frames.map((f) => f.pid)).toEqual([target.pid, target.pid, target.pid]);
  });

  it('--watch appends tables when piped, never cursor movement', () => {
    const r = cli(['report', '--pid', String(target.pid), '--watch', '0.1', '--count', '2']);
    expect(r.status).toBe(0);
    expect(r.stdout.match(/^pid \d+ \(node\)/gm)).toHaveLength(2);
    expect(r.stdout).not.toContain('\x1b');
  });

  (hasScript ? it : it.skip)(`--watch on a terminal redraws in place${hasScript ? '' : ' [skipped: no script(1) for a pty]'}`, () => {
    const screen = cliOnTty(['report', '--pid', String(target.pid), '--watch', '0.1', '--count', '3'], { NO_COLOR: '1' });
    expect(screen.split('\x1b[2J')).toHaveLength(2); // the screen is cleared once…
    expect(screen.split('\x1b[H')).toHaveLength(4); // …then each frame starts at home
    expect(screen.match(/pid \d+ \(node\)/g)).toHaveLength(3);
  });

  // Where the host rules huge pages out, no coverage is a measurement: the gate cannot judge.
  const host = hostThpBlock();
  it(`coverage below --min-coverage: ${host ? `exit 4, nothing to judge (${host})` : 'exit 3 with the two numbers; at or above: exit 0'}`, () => {
    const below = cli(['report', '--pid', String(target.pid), '--min-coverage', '1', '--json']);
    expect(JSON.parse(below.stdout).pid).toBe(target.pid);
    if (host) {
      expect(below).toMatchObject({ status: 4, stderr: `hugespan: --min-coverage cannot judge: ${host} (--unmeasurable pass|fail decides)\n` });
      return;
    }
    expect(below.status).toBe(3);
    expect(below.stderr).toMatch(/^hugespan: coverage \d+\.\d% is below --min-coverage 100\.0%\n$/);
    expect(cli(['report', '--pid', String(target.pid), '--min-coverage', '0'])).toMatchObject({ status: 0, stderr: '' });
  });
});

describe('a process that turned THP off (prctl)', () => {
  let off: Target;
  beforeAll(async () => {
    off = await startTarget({ thpDisabled: true });
  });
  afterAll(() => off?.stop());

  // The host's own refusal (enabled=never, no THP) comes first in what hugespan says.
  const why = hostThpBlock() ?? 'THP disabled for this process (prctl PR_SET_THP_DISABLE)';
  const escaped = why.replace(/[()]/g, '\\$&');

  it(`says so plainly instead of reporting 0% coverage as a finding (${why})`, () => {
    const r = cli(['report', '--pid', String(off.pid)]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^THP {7}${escaped}: none of its memory can be on huge pages$`, 'm'));
    expect(r.stdout).toMatch(new RegExp(`^on huge pages +0 B {2}coverage -: ${escaped}, not a measurement$`, 'm'));
    expect(r.stdout).not.toMatch(/coverage 0\.0%/);
  });

  it('JSON: thpDisabled, and the hugepage region has no huge page', () => {
    const report = cliJson(['report', '--pid', String(off.pid)]);
    expect(report.thpDisabled).toBe(true);
    expect(report.totals.anonHugePages).toBe(0);
    expect(vmaOf(report, off.layout.huge)).toMatchObject({ anonymous: 32 * MiB, anonHugePages: 0, coverage: 0 });
    expect(report.vmas.every((v: any) => v.thpEligible === false)).toBe(true);
  });

  // It used to print "coverage 0.0% is below" and exit 3, while the table said "not a measurement".
  it('--min-coverage cannot judge it: exit 4 and why; --unmeasurable pass or fail decides', () => {
    const gate = (...more: string[]) => cli(['report', '--pid', String(off.pid), '--min-coverage', '0.5', ...more]);
    expect(gate()).toMatchObject({ status: 4, stderr: `hugespan: --min-coverage cannot judge: ${why} (--unmeasurable pass|fail decides)\n` });
    expect(gate('--unmeasurable', 'pass')).toMatchObject({ status: 0, stderr: '' });
    expect(gate('--unmeasurable', 'fail')).toMatchObject({
      status: 3,
      stderr: `hugespan: no coverage to judge (${why}); --unmeasurable fail counts that as below --min-coverage 50.0%\n`,
    });
  });
});

describe('report --json: compact for programs, indented for people', () => {
  it('piped: one compact line; --pretty: indented; both the same value', () => {
    const piped = cli(['report', '--pid', String(target.pid), '--json']);
    const pretty = cli(['report', '--pid', String(target.pid), '--json', '--pretty']);
    expect({ piped: piped.status, pretty: pretty.status }).toEqual({ piped: 0, pretty: 0 });
    expect(piped.stdout.trimEnd().split('\n')).toHaveLength(1);
    expect(pretty.stdout).toMatch(/^\{\n {2}"schema": 2,\n/);
    // Two readings of a live host: khugepaged's counters (thp.khugepaged) move between them, as may the
    // memory — the totals, and the owners' byOwner sums (a node target's V8 heap grows between reads).
    const strip = (r: any) => ({ ...r, time: undefined, vmas: undefined, totals: undefined, owners: r.owners && { ...r.owners, byOwner: undefined }, thp: { ...r.thp, khugepaged: undefined } });
    expect(strip(JSON.parse(piped.stdout))).toEqual(strip(JSON.parse(pretty.stdout)));
  });

  (hasScript ? it : it.skip)('on a terminal: indented without --pretty', () => {
    expect(cliOnTty(['report', '--pid', String(target.pid), '--json'])).toMatch(/^\{\r?\n {2}"schema": 2,/);
  });

  it('--pretty with a format other than json is a usage error', () => {
    const r = cli(['report', '--pretty', '--format', 'table']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--pretty only means something with --json');
  });

  it('loads neither the heap, the lab nor OpenMetrics for a JSON report', () => {
    // A preload records, at exit, every module file the run loaded (require.cache).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-lazy-'));
    const out = path.join(dir, 'loaded.json');
    const preload = path.join(dir, 'record.js');
    fs.writeFileSync(preload, `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify(Object.keys(require.cache))));\n`);
    try {
      const r = spawnSync(process.execPath, ['--require', preload, CLI, 'report', '--pid', String(target.pid), '--json'], { encoding: 'utf8', timeout: 50000 });
      expect(r.status).toBe(0);
      const loaded: string[] = JSON.parse(fs.readFileSync(out, 'utf8'));
      expect(loaded.some((f) => f.includes(`${path.sep}account${path.sep}report.js`))).toBe(true);
      // Relative to the package, so a checkout in a directory named lab or heap is not a match.
      const root = path.resolve(path.dirname(CLI), '..', '..');
      expect(loaded.map((f) => path.relative(root, f)).filter((f) => /[/\\](heap|lab)[/\\]|openmetrics\.js$|[/\\]cli[/\\]lab\.js$/.test(f))).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
