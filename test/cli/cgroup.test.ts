/**
 * `report --cgroup PATH` against the memory cgroup this test runs in (its children are charged
 * to it too): the cgroup's own THP counters from memory.stat, v2 or v1, and its processes.
 */
import * as fs from 'node:fs';
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
