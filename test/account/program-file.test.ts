/**
 * Owner detection reads the files a process maps; a process may map anything. Invariant: the
 * reader reads only regular files, and only their size: `/dev/zero` (endless), a FIFO (blocks
 * on open), a directory give nothing, at once. The live case is the one that once drove a jest
 * worker to 23.7 GB and the OOM killer: a writable private `/dev/zero` map with anonymous memory
 * right after it (the pattern whose ELF .bss is read). It runs in a child under a 3 GB address
 * space limit, so a regression fails here instead of taking the host down.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { readProgramFile } from '../../src/account/owners/program-file';
import { parseMaps } from '../../src/account/owners';
import { ROOT } from '../support/child';
import { Target, buildTarget, stopAll } from '../support/c-target';
import { itUnless } from '../support/thp';

const built = buildTarget();
afterAll(stopAll);

describe('readProgramFile reads regular files only, and only their size', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-pf-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a regular file: its bytes; over the cap: nothing', () => {
    const f = path.join(dir, 'f');
    fs.writeFileSync(f, Buffer.from('0123456789'));
    expect(readProgramFile(f)?.toString()).toBe('0123456789');
    expect(readProgramFile(f, 9)).toBeUndefined();
  });

  it('/dev/zero, a FIFO with no writer, a directory, a missing path: nothing, at once', () => {
    const fifo = path.join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    for (const f of ['/dev/zero', '/dev/urandom', fifo, dir, path.join(dir, 'missing')]) expect({ f, got: readProgramFile(f) }).toEqual({ f, got: undefined });
  });
});

describe('owner detection on a process that maps /dev/zero', () => {
  itUnless(built.reason, 'ownerSnapshot completes, within 3 GB of address space, on a writable /dev/zero map with anonymous memory after it', async () => {
    const t = Target.start(built.bin!);
    const anon = await t.ok('map 1');
    const dz = await t.ok('devzero 1');
    // The pattern: /dev/zero rw-p, ending where an anonymous VMA starts.
    const entries = parseMaps(fs.readFileSync(`/proc/${t.pid}/maps`, 'utf8'));
    const i = entries.findIndex((e) => e.path === '/dev/zero' && e.start <= dz && dz < e.end);
    expect(i).toBeGreaterThanOrEqual(0);
    expect({ next: entries[i + 1]?.inode, adjacent: entries[i + 1]?.start === entries[i].end, below: entries[i].end <= anon }).toEqual({ next: 0, adjacent: true, below: true });
    const code = `const { ownerSnapshot } = require(${JSON.stringify(path.join(ROOT, 'dist', 'account', 'owners'))}); const s = ownerSnapshot(${t.pid}); console.log(JSON.stringify({ bss: s.bss }))`;
    const r = spawnSync('bash', ['-c', `ulimit -v 3000000; exec "$0" -e "$1"`, process.execPath, code], { encoding: 'utf8', timeout: 60000 });
    expect({ status: r.status, signal: r.signal, stderr: r.stderr.slice(-500) }).toEqual({ status: 0, signal: null, stderr: '' });
    expect(JSON.parse(r.stdout.trim()).bss).not.toHaveProperty(['/dev/zero']);
    t.kill();
  });
});
