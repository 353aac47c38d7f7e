/**
 * `hugespan collapse` names the kernel's errno truly (mm/khugepaged.c madvise_collapse_errno):
 * a cgroup that cannot be charged for the huge page is EBUSY — not ENOMEM, which is only a huge
 * page that could not be allocated. The case is made, not mocked: a process with one collapsible
 * frame is moved into a child memory cgroup limited to 1 MiB above its charge, so the 2 MiB the
 * collapse must charge cannot fit. And the pidfd comes first: a process gone is said as gone.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { cli } from './cli';
import { itUnless, exactReason } from '../support/thp';

const [major, minor] = os.release().split('.').map(Number);
const root = process.getuid?.() === 0;
const hasPython = spawnSync('python3', ['-c', 'import mmap; mmap.MADV_HUGEPAGE'], { encoding: 'utf8' }).status === 0;

/** A child of this process's v1 memory cgroup we may make and remove, or why not. */
function childCgroup(): { path: string } | { why: string } {
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').map((l) => l.split(':'));
  const v1 = lines.find((l) => l[1].split(',').includes('memory'));
  const dir = v1 && `/sys/fs/cgroup/memory${v1[2]}`.replace(/\/$/, '');
  if (!dir || !fs.existsSync(`${dir}/memory.limit_in_bytes`)) {
    return { why: 'no cgroup v1 memory controller here (on v2 a child cgroup needs memory in the parent\'s subtree_control and no process in the parent: not attempted)' };
  }
  const child = path.join(dir, `hugespan-ebusy-${process.pid}`);
  try {
    fs.mkdirSync(child);
    fs.rmdirSync(child);
  } catch (e) {
    return { why: `cannot make a child memory cgroup under ${dir}: ${(e as Error).message}` };
  }
  return { path: child };
}

const cg = root ? childCgroup() : { why: 'moving a process between cgroups needs root' };
const skip =
  !(major > 6 || (major === 6 && minor >= 1))
    ? `MADV_COLLAPSE through process_madvise needs Linux >= 6.1 (this is ${os.release()})`
    : (exactReason ?? ('why' in cg ? cg.why : hasPython ? undefined : 'python3 (with mmap.madvise) makes the target; it is not here'));

// One frame, one page written while nohugepage, its referenced bits cleared (so khugepaged,
// which wants a recently referenced page, leaves it), then advised hugepage.
const TARGET = `
import ctypes, json, mmap, sys
H = ${2 << 20}
m = mmap.mmap(-1, 4 * H, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
base = ctypes.addressof(ctypes.c_char.from_buffer(m))
off = (-base) % H + H
m.madvise(mmap.MADV_NOHUGEPAGE, off, H)
m[off] = 1
with open('/proc/self/clear_refs', 'w') as f: f.write('1')
m.madvise(mmap.MADV_HUGEPAGE, off, H)
print(json.dumps({"start": base + off, "end": base + off + H}), flush=True)
sys.stdin.read()
`;

describe('collapse: the errno the kernel gives, said truly', () => {
  itUnless(skip, 'a cgroup at its limit: EBUSY, said as the cgroup (not ENOMEM); nothing collapsed', async () => {
    const dir = (cg as { path: string }).path;
    const file = path.join(os.tmpdir(), `hugespan-ebusy-${process.pid}.py`);
    fs.writeFileSync(file, TARGET);
    fs.mkdirSync(dir);
    let target: ChildProcess | undefined;
    try {
      target = spawn('python3', [file], { stdio: ['pipe', 'pipe', 'inherit'] });
      const region: { start: number; end: number } = await new Promise((resolve, reject) => {
        target!.once('exit', (c) => reject(new Error(`python3 exited ${c}`)));
        target!.stdout!.once('data', (d: Buffer) => resolve(JSON.parse(d.toString().split('\n')[0])));
      });
      // cgroup v1 moves no charge with the task (move_charge_at_immigrate 0): the new cgroup is
      // charged only what the target allocates from now on, and the huge page would be 2 MiB.
      fs.writeFileSync(`${dir}/cgroup.procs`, String(target.pid));
      const usage = Number(fs.readFileSync(`${dir}/memory.usage_in_bytes`, 'utf8'));
      fs.writeFileSync(`${dir}/memory.limit_in_bytes`, String(usage + (1 << 20)));
      const range = `${region.start.toString(16)}-${region.end.toString(16)}`;
      const r = cli(['collapse', '--pid', String(target.pid), '--range', range, '--json']);
      expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
      const c = JSON.parse(r.stdout);
      expect(c.plan.totals).toMatchObject({ collapse: 1, rssGrowth: (2 << 20) - 4096 });
      expect(c).toMatchObject({ collapsed: 0, failed: { EBUSY: 1 }, frames: [{ start: `0x${region.start.toString(16)}`, outcome: 'EBUSY' }] });
      expect(Number(fs.readFileSync(`${dir}/memory.failcnt`, 'utf8'))).toBeGreaterThan(0);
      const t = cli(['collapse', '--pid', String(target.pid), '--range', range]);
      expect(t.stdout).toMatch(/1 failed with EBUSY: the cgroup could not be charged for the huge page/);
      expect(t.stdout).not.toMatch(/ENOMEM/);
    } finally {
      if (target && target.exitCode === null) {
        const gone = new Promise((resolve) => target!.once('exit', resolve));
        target.kill('SIGKILL');
        await gone;
      }
      fs.rmSync(file, { force: true });
      fs.rmdirSync(dir);
    }
  });

  it('a process that is gone: pidfd_open says so before anything is read (exit 1, "exited" or no such process)', () => {
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const pid = Number(dead.stdout.trim());
    const r = cli(['collapse', '--pid', String(pid)]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`pid ${pid} exited|no process ${pid}|not permitted`));
  });
});
