/**
 * `hugespan collapse` says what it will cost, and the kernel agrees: the plan's predicted growth
 * is the growth smaps measures after the collapse, --max-growth stops it, --dry-run changes
 * nothing, and pages shared with a forked process are counted as unshared (the process's RSS
 * does not grow for them; its private memory, the machine's, does; the other process keeps them).
 *
 * The frames are made collapsible by MADV_COLLAPSE only: the target clears its pages' referenced
 * bits (/proc/self/clear_refs) before it advises hugepage, so khugepaged — which needs a recently
 * referenced page in the frame, and which other tests may have turned fast — leaves them for
 * the command.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { cli, H } from './cli';
import { itUnless, exactReason } from '../support/thp';
import { ROOT } from '../support/child';
import { readSmaps } from '../../src/native/smaps';

const PAGE = 4096;
const [major, minor] = os.release().split('.').map(Number);
const root = process.getuid?.() === 0;
const skip =
  !(major > 6 || (major === 6 && minor >= 1)) ? `MADV_COLLAPSE through process_madvise needs Linux >= 6.1 (this is ${os.release()})` : !root ? 'process_madvise needs CAP_SYS_NICE and clear_refs needs the owner: run as root' : exactReason;
const hasPython = spawnSync('python3', ['-c', 'import mmap; mmap.MADV_HUGEPAGE'], { encoding: 'utf8' }).status === 0;

interface Region {
  start: number;
  end: number;
}

/** Start `command` and resolve with its first stdout line, parsed. */
function start(command: string, args: string[]): Promise<{ child: ChildProcess; first: any }> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`${command} exited ${c} before it was ready`)));
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve({ child, first: JSON.parse(out.split('\n')[0]) });
    });
  });
}

/** What smaps says of [start, end) of `pid`, summed over its VMAs there. */
function smapsOf(pid: number, r: Region): { rss: number; anonymous: number; private: number; anonHugePages: number } {
  const s = { rss: 0, anonymous: 0, private: 0, anonHugePages: 0 };
  for (const v of readSmaps(pid)) {
    if (v.end <= r.start || v.start >= r.end) continue;
    s.rss += v.rss;
    s.anonymous += v.anonymous;
    s.private += (v.privateClean as number) + (v.privateDirty as number);
    s.anonHugePages += v.anonHugePages;
  }
  return s;
}

const range = (r: Region) => `${r.start.toString(16)}-${r.end.toString(16)}`;

// Two regions of 4 frames, each frame with one page written while nohugepage, then advised
// hugepage: the case of the issue (a collapse that makes 4 KiB cost 2 MiB).
const SPARSE = `
  const { Mapping, setThpDisabledForSelf } = require(${JSON.stringify(ROOT)});
  setThpDisabledForSelf(false);
  const H = ${H}, kept = [];
  const region = () => {
    const m = new Mapping(6 * H, { align: 'hugepage', commit: true });
    kept.push(m);
    m.advise('nohugepage', H, 4 * H);
    for (let f = 0; f < 4; f++) m.touch(H + f * H, ${PAGE}, 9);
    require('node:fs').writeFileSync('/proc/self/clear_refs', '1');
    m.advise('hugepage', H, 4 * H);
    return { start: m.address + H, end: m.address + 5 * H };
  };
  console.log(JSON.stringify({ a: region(), b: region() }));
  process.stdin.on('end', () => process.exit(0)).resume();
`;

describe('collapse: the plan, and the kernel agreeing with it', () => {
  let sparse: { child: ChildProcess; first: { a: Region; b: Region } } | undefined;
  beforeAll(async () => {
    if (skip) return;
    sparse = await start(process.execPath, ['-e', SPARSE]);
  }, 30000);
  afterAll(() => sparse?.child.kill('SIGKILL'));

  itUnless(skip, 'one page per frame: --dry-run changes nothing; the collapse grows RSS by exactly what the plan said', () => {
    const pid = sparse!.child.pid!;
    const { a } = sparse!.first;
    const before = smapsOf(pid, a);
    expect(before).toMatchObject({ rss: 4 * PAGE, anonHugePages: 0 });
    const dry = JSON.parse(cli(['collapse', '--pid', String(pid), '--range', range(a), '--dry-run', '--json']).stdout);
    expect(dry).toMatchObject({ schema: 2, kind: 'collapse', dryRun: true, frames: [], collapsed: 0 });
    expect(dry.plan.totals).toMatchObject({ frames: 4, collapse: 4, present: 4, shared: 0, swapped: 0, allocate: 4 * H, rssGrowth: 4 * (H - PAGE), memoryGrowth: 4 * (H - PAGE), skipped: {} });
    expect(smapsOf(pid, a)).toEqual(before);
    const text = cli(['collapse', '--pid', String(pid), '--range', range(a), '--dry-run']);
    expect(text.stdout).toContain('--dry-run: nothing was collapsed');
    expect(text.stdout).toMatch(/RSS grows 8\.0 MiB, memory grows 8\.0 MiB/);

    const r = cli(['collapse', '--pid', String(pid), '--range', range(a), '--json']);
    expect(r.stderr).toBe('');
    const c = JSON.parse(r.stdout);
    expect(c).toMatchObject({ dryRun: false, collapsed: 4, failed: {} });
    const after = smapsOf(pid, a);
    expect(after.anonHugePages).toBe(4 * H);
    // The prediction, against the kernel's own figures: Rss, Anonymous and private memory.
    expect(after.rss - before.rss).toBe(c.plan.totals.rssGrowth);
    expect(after.anonymous - before.anonymous).toBe(c.plan.totals.rssGrowth);
    expect(after.private - before.private).toBe(c.plan.totals.memoryGrowth);
    process.stderr.write(`collapse plan vs smaps (one page per frame, 4 frames): predicted RSS +${c.plan.totals.rssGrowth}, measured Rss +${after.rss - before.rss}, Anonymous +${after.anonymous - before.anonymous}\n`);
  });

  itUnless(skip, '--max-growth stops it: the cheapest frames within the bound, the rest skipped as over-max-growth', () => {
    const pid = sparse!.child.pid!;
    const { b } = sparse!.first;
    const before = smapsOf(pid, b);
    // 2 frames cost 2 × (2 MiB - 4 KiB) < 5 MiB; a third would not fit.
    const c = JSON.parse(cli(['collapse', '--pid', String(pid), '--range', range(b), '--max-growth', '5M', '--json']).stdout);
    expect(c.plan.maxGrowth).toBe(5 << 20);
    expect(c.plan.totals).toMatchObject({ frames: 4, collapse: 2, rssGrowth: 2 * (H - PAGE), skipped: { 'over-max-growth': 2 } });
    expect(c.collapsed).toBe(2);
    const after = smapsOf(pid, b);
    expect(after.rss - before.rss).toBe(2 * (H - PAGE));
    expect(after.anonHugePages).toBe(2 * H);
    // Nothing within 0 bytes.
    const none = JSON.parse(cli(['collapse', '--pid', String(pid), '--range', range(b), '--max-growth', '0', '--json']).stdout);
    expect(none).toMatchObject({ collapsed: 0, frames: [] });
    expect(none.plan.totals.skipped).toEqual({ 'over-max-growth': 2 });
    expect(smapsOf(pid, b)).toEqual(after);
    expect(cli(['collapse', '--pid', String(pid), '--max-growth', 'lots']).status).toBe(2);
  });
});

// A python parent writes every page of 2 frames (nohugepage), forks a child that holds them,
// then writes again half the pages of frame 1 (copy-on-write: those become its own), and
// advises hugepage. Frame 0: 512 pages shared; frame 1: 256 shared, 256 its own.
const FORK = `
import ctypes, json, mmap, os, sys
H, P = ${H}, ${PAGE}
m = mmap.mmap(-1, 5 * H, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
base = ctypes.addressof(ctypes.c_char.from_buffer(m))
off = (-base) % H + H
m.madvise(mmap.MADV_NOHUGEPAGE, off, 2 * H)
for k in range(0, 2 * H, P): m[off + k] = 1
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w); os.read(r, 1); os._exit(0)
for k in range(0, H // 2, P): m[off + H + k] = 2
with open('/proc/self/clear_refs', 'w') as f: f.write('1')
m.madvise(mmap.MADV_HUGEPAGE, off, 2 * H)
print(json.dumps({"start": base + off, "end": base + off + 2 * H, "child": pid}), flush=True)
sys.stdin.read()
os.close(w); os.waitpid(pid, 0)
`;

describe('collapse: pages shared with a forked process', () => {
  const why = skip ?? (hasPython ? undefined : 'python3 with mmap.madvise (3.8+) makes the forked pair; it is not here');
  let pair: { child: ChildProcess; first: Region & { child: number } } | undefined;
  beforeAll(async () => {
    if (why) return;
    const file = path.join(os.tmpdir(), `hugespan-fork-${process.pid}.py`);
    fs.writeFileSync(file, FORK);
    pair = await start('python3', [file]);
    fs.rmSync(file, { force: true });
  }, 30000);
  afterAll(() => pair?.child.kill('SIGKILL'));

  itUnless(why, 'the plan says which pages it unshares; the parent grows by them, the forked child keeps its own', () => {
    const pid = pair!.child.pid!;
    const region = { start: pair!.first.start, end: pair!.first.end };
    const before = smapsOf(pid, region);
    const childBefore = smapsOf(pair!.first.child, region);
    expect(before.rss).toBe(2 * H);
    const c = JSON.parse(cli(['collapse', '--pid', String(pid), '--range', range(region), '--max-growth', '1G', '--json']).stdout);
    const [f0, f1] = c.plan.frames;
    expect(f0).toMatchObject({ present: 512, shared: 512, rssGrowth: 0, memoryGrowth: H, action: 'collapse' });
    expect(f1).toMatchObject({ present: 512, shared: 256, rssGrowth: 0, memoryGrowth: H / 2, action: 'collapse' });
    expect(c.plan.totals).toMatchObject({ shared: 768, rssGrowth: 0, memoryGrowth: H + H / 2 });
    expect(c.collapsed).toBe(2);
    const after = smapsOf(pid, region);
    expect(after.anonHugePages).toBe(2 * H);
    expect(after.rss - before.rss).toBe(c.plan.totals.rssGrowth);
    // Its private memory grows by what it unshared: the machine pays for those pages twice now.
    expect(after.private - before.private).toBe(c.plan.totals.memoryGrowth);
    expect(after.private - before.private).toBe(c.plan.totals.shared * PAGE);
    // The forked child keeps its pages: its RSS is unchanged, and they are its alone now.
    const childAfter = smapsOf(pair!.first.child, region);
    expect(childAfter.rss).toBe(childBefore.rss);
    expect(childAfter.private - childBefore.private).toBe(c.plan.totals.shared * PAGE);
    process.stderr.write(`collapse plan vs smaps (fork-shared, 2 frames): unshares ${c.plan.totals.shared} pages, predicted memory +${c.plan.totals.memoryGrowth}, parent Private +${after.private - before.private}, parent Rss +${after.rss - before.rss}, child Rss +${childAfter.rss - childBefore.rss}\n`);
  });
});
