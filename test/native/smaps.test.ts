/** The C++ smaps reader: real /proc text, tricky headers, bad text, processes we may not read. */
import { readSmaps, readSmapsRollup, parseSmaps, vmaAt } from '../../src/native/smaps';
import { Mapping } from '../../src/native/mapping';
import { thrown } from '../support/errors';
import { itUnless } from '../support/thp';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../support/child';

/**
 * Asking for a process we may not read. As a user, pid 1 is root's: ask from here. As root,
 * every process is readable, so ask from a child that gave up root (uid/gid 65534). That child
 * cannot be assumed to reach this checkout (a clone in /root or any mktemp -d is 0700), so it
 * loads a copy of the built package (dist/ and the addon) from a fresh 0755 directory in the
 * temp dir, removed after the tests. Where even that copy is out of its reach (a private
 * TMPDIR, node itself under /root), the test skips and says why.
 */
const AS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;
let copy: string | undefined;

function childAsks(dir: string, code: string): ReturnType<typeof spawnSync> {
  return spawnSync(process.execPath, ['-e', code], { cwd: dir, uid: NOBODY, gid: NOBODY, encoding: 'utf8', timeout: 30000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
}

function setUpEacces(): string | undefined {
  if (!AS_ROOT) {
    if (fs.statSync('/proc/1').uid === process.getuid?.()) return `pid 1 is this user's own process (uid ${process.getuid?.()}): nothing here we may not read`;
    return undefined;
  }
  copy = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-eacces-'));
  fs.chmodSync(copy, 0o755);
  fs.cpSync(path.join(ROOT, 'dist'), path.join(copy, 'dist'), { recursive: true });
  fs.mkdirSync(path.join(copy, 'build', 'Release'), { recursive: true });
  fs.copyFileSync(path.join(ROOT, 'build', 'Release', 'hugespan.node'), path.join(copy, 'build', 'Release', 'hugespan.node'));
  // Readable and searchable by anyone, whatever the umask made of the copies.
  const open = (p: string): void => {
    fs.chmodSync(p, fs.statSync(p).isDirectory() ? 0o755 : 0o644);
    if (fs.statSync(p).isDirectory()) for (const f of fs.readdirSync(p)) open(path.join(p, f));
  };
  open(copy);
  const probe = childAsks(copy, `require(${JSON.stringify(path.join(copy, 'dist', 'native', 'smaps.js'))}); console.log('loaded')`);
  if (String(probe.stdout).trim() === 'loaded') return undefined;
  const why = String(probe.stderr).split('\n').find((l) => /Error|EACCES|denied/.test(l)) ?? probe.error?.message ?? `status ${probe.status}`;
  fs.rmSync(copy, { recursive: true, force: true });
  // The random directory name out of the reason: a skipped test's title stays the same run to run.
  const said = why.trim().split(copy).join('<copy>');
  copy = undefined;
  return `uid ${NOBODY} cannot load a copy of the package from ${os.tmpdir()} (${said})`;
}

const eaccesReason = setUpEacces();
const eaccesTest = (name: string, fn: () => void): void => itUnless(eaccesReason, name, fn);
afterAll(() => {
  if (copy) fs.rmSync(copy, { recursive: true, force: true });
});

/** readSmaps(1) where we may not read it: the error's code and errno, or { ok: true }. */
function askPid1(): unknown {
  if (!AS_ROOT) {
    try {
      readSmaps(1);
      return { ok: true };
    } catch (e) {
      return { code: (e as { code?: string }).code, errno: (e as { errno?: number }).errno };
    }
  }
  const smaps = JSON.stringify(path.join(copy!, 'dist', 'native', 'smaps.js'));
  const r = childAsks(copy!, `const { readSmaps } = require(${smaps}); try { readSmaps(1); console.log(JSON.stringify({ ok: true })); } catch (e) { console.log(JSON.stringify({ code: e.code, errno: e.errno })); }`);
  expect(r.stderr).toBe('');
  return JSON.parse(String(r.stdout).trim());
}

const SAMPLE = [
  '7f0000000000-7f0000200000 rw-p 00000000 00:00 0 ',
  'Size:               2048 kB',
  'KernelPageSize:        4 kB',
  'Rss:                2048 kB',
  'Pss_Dirty:          1024 kB',
  'AnonHugePages:      2048 kB',
  'FutureField_Thing:    12 kB',
  'ProtectionKey:         3',
  'THPeligible:    1',
  'VmFlags: rd wr mr mw me ac hg',
  '7f0000200000-7f0000201000 r--s 00001000 fd:01 123456     /tmp/my file (deleted)',
  'Size:                  4 kB',
  'THPeligible:    0',
  'VmFlags: rd sh mr mw me',
  '7f0000201000-7f0000202000 rw-p 00000000 00:00 0          [anon:my heap]',
  'Size:                  4 kB',
  'VmFlags: rd wr nh',
  '',
].join('\n');

describe('parseSmaps', () => {
  it('reads every field in bytes with camelCase names, keeps unknown fields, and every header form', () => {
    const [a, b, c] = parseSmaps(SAMPLE);
    expect(a).toMatchObject({ start: 0x7f0000000000, end: 0x7f0000200000, perms: 'rw-p', offset: 0, dev: '00:00', inode: 0, path: '' });
    expect(a).toMatchObject({ size: 2 << 20, kernelPageSize: 4096, rss: 2 << 20, pssDirty: 1 << 20, anonHugePages: 2 << 20, futureFieldThing: 12 * 1024, protectionKey: 3, thpEligible: true });
    expect(a.vmFlags).toEqual(['rd', 'wr', 'mr', 'mw', 'me', 'ac', 'hg']);
    expect(b).toMatchObject({ perms: 'r--s', offset: 0x1000, dev: 'fd:01', inode: 123456, path: '/tmp/my file (deleted)', thpEligible: false });
    expect(c).toMatchObject({ path: '[anon:my heap]', vmFlags: ['rd', 'wr', 'nh'] });
    expect(c.thpEligible).toBeUndefined();
  });

  it('CRLF line ends and a missing final newline parse the same', () => {
    expect(parseSmaps(SAMPLE.replace(/\n/g, '\r\n'))).toEqual(parseSmaps(SAMPLE));
    expect(parseSmaps(SAMPLE.trimEnd())).toEqual(parseSmaps(SAMPLE));
    expect(parseSmaps(Buffer.from(SAMPLE))).toEqual(parseSmaps(SAMPLE));
  });

  it.each([
    ['a field before any header', 'Rss: 4 kB\n'],
    ['a header without an end', '7f0000000000 rw-p 00000000 00:00 0\n'],
    ['a number that is not one', SAMPLE.replace('Rss:                2048 kB', 'Rss: 20x8 kB')],
    ['a number that overflows', SAMPLE.replace('Rss:                2048 kB', 'Rss: 99999999999999999999999 kB')],
    ['a duplicate field', SAMPLE.replace('Rss:                2048 kB', 'Rss: 4 kB\nRss: 4 kB')],
    ['start after end', '7f0000200000-7f0000000000 rw-p 00000000 00:00 0\n'],
    ['a line that is neither', SAMPLE.replace('Size:                  4 kB', 'garbage here')],
  ])('refuses %s with a message naming the line', (_what, text) => {
    const err = thrown(() => parseSmaps(text));
    expect(err.code).toBe('ERR_HUGESPAN_SMAPS_PARSE');
    expect(err.message).toMatch(/line \d+/);
  });
});

describe('readSmaps', () => {
  it('reads this process: VMAs in order, sizes add up, our mapping is found', () => {
    const m = new Mapping(8 << 20, { commit: true, align: 'hugepage' });
    m.touch(0, 1 << 20);
    const vmas = readSmaps();
    expect(vmas.length).toBeGreaterThan(10);
    for (let i = 1; i < vmas.length; i++) expect(vmas[i].start).toBeGreaterThanOrEqual(vmas[i - 1].end);
    for (const v of vmas) expect(v.size).toBe(v.end - v.start);
    const own = vmaAt(vmas, m.address)!;
    expect(own.start).toBeLessThanOrEqual(m.address);
    expect(own.rss).toBeGreaterThanOrEqual(1 << 20);
    m.unmap();
  });

  it('smaps_rollup agrees with the sum of smaps for fields that cannot move between reads', () => {
    const rollup = readSmapsRollup();
    expect(rollup.path).toBe('[rollup]');
    expect(rollup.rss).toBeGreaterThan(0);
    expect(typeof rollup.anonHugePages).toBe('number');
  });

  it('a pid that does not exist is ENOENT, like fs', () => {
    expect(thrown(() => readSmaps(4194304))).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', path: '/proc/4194304/smaps' });
  });

  eaccesTest('a process we may not read is EACCES', () => {
    expect(askPid1()).toEqual({ code: 'EACCES', errno: -13 });
  });
});
