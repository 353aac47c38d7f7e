/**
 * `report --cgroup PATH` against the memory cgroup this test runs in (its children are charged
 * to it too): the cgroup's own THP counters from memory.stat, v2 or v1, and its processes.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import { cli, startTarget, Target } from './cli';
import { itThp, itUnless } from '../support/thp';

/** This process's memory cgroup directory: the v2 unified path if it has memory.stat, else v1's. */
function ownCgroup(): { path: string; version: 1 | 2 } | undefined {
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n').map((l) => l.split(':'));
  const v2 = lines.find((l) => l[0] === '0' && l[1] === '');
  if (v2 && fs.existsSync(`/sys/fs/cgroup${v2[2]}/memory.stat`)) return { path: `/sys/fs/cgroup${v2[2]}`.replace(/\/$/, ''), version: 2 };
  const v1 = lines.find((l) => l[1].split(',').includes('memory'));
  if (v1 && fs.existsSync(`/sys/fs/cgroup/memory${v1[2]}/memory.stat`)) return { path: `/sys/fs/cgroup/memory${v1[2]}`.replace(/\/$/, ''), version: 1 };
  return undefined;
}

const own = ownCgroup();
let target: Target;
beforeAll(async () => {
  target = await startTarget();
}, 30000);
afterAll(() => target?.stop());

describe('report --cgroup', () => {
  if (!own) {
    itUnless('this process is in no memory cgroup with a readable memory.stat (v2 or v1)', 'reads its own memory cgroup', () => undefined);
    return;
  }
  const json = () => {
    const r = cli(['report', '--cgroup', own.path, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout);
  };

  it(`JSON: memory.stat's figures (cgroup v${own.version}) and its processes, the target among them`, () => {
    const anonKey = own.version === 2 ? 'anon' : 'total_rss';
    const stat = (): Record<string, number> => Object.fromEntries([...fs.readFileSync(`${own.path}/memory.stat`, 'utf8').matchAll(/^(\w+) (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    const before = stat()[anonKey];
    const j = json();
    const after = stat()[anonKey];
    expect(j).toMatchObject({ schema: 2, kind: 'cgroup', path: own.path, version: own.version });
    // The cgroup lives on while it is read (other processes in it allocate and free): its
    // figure lies within what the file said just before and just after, give or take 64 MiB.
    expect(j.anonymous).toBeGreaterThanOrEqual(Math.min(before, after) - (64 << 20));
    expect(j.anonymous).toBeLessThanOrEqual(Math.max(before, after) + (64 << 20));
    expect(j.fileThp === null).toBe(own.version === 1);
    const me = j.processes.find((p: { pid: number }) => p.pid === target.pid);
    expect(me).toMatchObject({ comm: 'node' });
    expect(j.anonymous).toBeGreaterThanOrEqual(me.anonymous);
  });

  itThp('the target\'s huge pages are charged to the cgroup: its THP at least the target\'s', () => {
    const j = json();
    const me = j.processes.find((p: { pid: number }) => p.pid === target.pid);
    expect(me.anonHugePages).toBeGreaterThanOrEqual(40 << 20);
    expect(j.anonHugePages).toBeGreaterThanOrEqual(me.anonHugePages);
  });

  const hasPython = spawnSync('python3', ['-c', 'import mmap, os'], { encoding: 'utf8' }).status === 0;
  itUnless(hasPython ? undefined : 'python3 makes the forked pair (os.fork); it is not here', 'a forked pair: the processes\' sum exceeds the cgroup by the pages they share, and the table says so', async () => {
    // 16 MiB written, then fork: parent and child each map (and count) all of it; the cgroup is charged once.
    const SHARED = 16 << 20;
    const file = path.join(os.tmpdir(), `hugespan-cgroup-fork-${process.pid}.py`);
    fs.writeFileSync(file, `
import mmap, os, sys
m = mmap.mmap(-1, ${SHARED}, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
for k in range(0, ${SHARED}, 4096): m[k] = 1
pid = os.fork()
if pid == 0:
    sys.stdin.read(); os._exit(0)
print(pid, flush=True)
sys.stdin.read()
os.waitpid(pid, 0)
`);
    let child = 0;
    const pair: ChildProcess = spawn('python3', [file], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      child = await new Promise<number>((resolve, reject) => {
        pair.once('exit', (c) => reject(new Error(`python3 exited ${c}`)));
        pair.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      });
      const j = json();
      const [a, b] = [pair.pid, child].map((pid) => j.processes.find((p: { pid: number }) => p.pid === pid));
      expect(a.anonymous).toBeGreaterThanOrEqual(SHARED);
      expect(b.anonymous).toBeGreaterThanOrEqual(SHARED);
      const s = j.sharing;
      // From the same reads as the table's rows: their sum, exactly, however busy the cgroup.
      expect(s.processesAnonymous).toBe(j.processes.reduce((n: number, p: { anonymous: number }) => n + p.anonymous, 0));
      // Each of the two counts the 16 MiB; Pss counts it once between them: at least 16 MiB counted twice.
      expect(s.sharedExcess).toBeGreaterThanOrEqual(SHARED);
      expect(s.sharedExcess).toBe(s.processesAnonymous - s.processesAnonymousOnce);
      expect(s.difference).toBe(s.processesAnonymous - j.anonymous);
      const t = cli(['report', '--cgroup', own.path]).stdout;
      expect(t).toContain("pages shared between processes (a forked child's copy-on-write pages) are charged once to the cgroup");
      expect(t).toMatch(/counted more than once \(Σ Anonymous - Σ Pss_Anon\)/);
    } finally {
      if (child) process.kill(child, 'SIGKILL');
      pair.kill('SIGKILL');
      pair.stdin!.destroy();
      fs.rmSync(file, { force: true });
    }
  });

  it('the table; and the refusals: with --pid, as openmetrics (usage), not a cgroup (exit 1)', () => {
    const t = cli(['report', '--cgroup', own.path]);
    expect(t.status).toBe(0);
    expect(t.stdout).toContain(`cgroup ${own.path}`);
    expect(cli(['report', '--cgroup', own.path, '--pid', String(target.pid)]).status).toBe(2);
    expect(cli(['report', '--cgroup', own.path, '--format', 'openmetrics']).status).toBe(2);
    const bad = cli(['report', '--cgroup', '/tmp']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe('hugespan: /tmp is not a memory cgroup (no readable memory.stat: ENOENT)\n');
  });
});
