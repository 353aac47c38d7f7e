/**
 * The filter pushed into the smaps hand-over (issue 12): the addon hands over only the VMAs a
 * caller keeps, and sums every field over all of them. Invariant under test: filtered is exactly
 * "parse everything, then filter in JS", and the sums are exactly the sums over every VMA.
 */
import { binding } from '../../src/native/binding';
import { Mapping } from '../../src/native/mapping';
import { readSmaps, readSmapsWhere } from '../../src/native/smaps';
import { thrown } from '../support/errors';
import { spawn, spawnSync, ChildProcess } from 'node:child_process';

const PAGE = binding.pageSize();
let m: Mapping;
// The process read: an idle python (its memory holds still, unlike a jest worker's, which
// allocates between any two reads under load), else this process.
let child: ChildProcess | undefined;
let pid: number | 'self' = 'self';
beforeAll(async () => {
  // Something anonymous and large, so both bounds keep at least one VMA.
  m = new Mapping(64 * PAGE, { commit: true });
  m.touch(0, 64 * PAGE);
  if (spawnSync('python3', ['-c', 'pass']).status === 0) {
    child = spawn('python3', ['-c', `import sys\nb = bytearray(${64 * PAGE})\nfor i in range(0, len(b), ${PAGE}): b[i] = 1\nprint('ready', flush=True)\nsys.stdin.read()`], { stdio: ['pipe', 'pipe', 'inherit'] });
    await new Promise((r) => child!.stdout!.once('data', r));
    pid = child.pid!;
  }
});
afterAll(() => {
  m.unmap();
  child?.kill('SIGKILL');
});

// smaps of a live process can change between two reads; compare only where the reads before and
// after agree, so both sides saw one layout.
function sameReads<T>(read: () => T, check: (a: T, all: ReturnType<typeof readSmaps>) => boolean): void {
  for (let attempt = 0; attempt < 20; attempt++) {
    const before = readSmaps(pid);
    const a = read();
    const after = readSmaps(pid);
    if (JSON.stringify(before) === JSON.stringify(after) && check(a, after)) return;
  }
  throw new Error('smaps never held still long enough to compare (or the filter disagrees)');
}

describe('smaps with a filter', () => {
  it('minAnonymous 1 keeps exactly the VMAs with anonymous memory, in order', () => {
    sameReads(
      () => readSmapsWhere(pid, { minAnonymous: 1 }),
      (got, all) => JSON.stringify(got.vmas) === JSON.stringify(all.filter((v) => v.anonymous >= 1)) && got.total === all.length,
    );
  });

  it('minSize keeps exactly the VMAs at least that large; both bounds together', () => {
    const minSize = 32 * PAGE;
    sameReads(
      () => readSmapsWhere(pid, { minAnonymous: 1, minSize }),
      (got, all) => JSON.stringify(got.vmas) === JSON.stringify(all.filter((v) => v.anonymous >= 1 && v.end - v.start >= minSize)) && got.vmas.length > 0,
    );
  });

  it('sums cover every VMA, kept or not', () => {
    sameReads(
      () => readSmapsWhere(pid, { minAnonymous: 2 ** 52 }),
      (got, all) =>
        got.vmas.length === 0 &&
        got.sums.rss === all.reduce((n, v) => n + v.rss, 0) &&
        got.sums.anonymous === all.reduce((n, v) => n + v.anonymous, 0) &&
        got.sums.anonHugePages === all.reduce((n, v) => n + v.anonHugePages, 0),
    );
  });

  it.each([
    ['minAnonymous negative', -1, 0, 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['minAnonymous 2^53', 2 ** 53, 0, 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['minSize a fraction', 0, 1.5, 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['minSize a string', 0, '4M', 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['minAnonymous NaN', NaN, 0, 'RangeError', 'ERR_INVALID_ARG_VALUE'],
  ])('%s: refused before the file is read', (_n, minAnonymous, minSize, name, code) => {
    const e = thrown(() => binding.smaps('self', false, minAnonymous as any, minSize as any));
    expect({ name: e.name, code: e.code }).toEqual({ name, code });
  });

  it('a pid that does not exist: an Error shaped like SystemError, the filter changes nothing', () => {
    const e = thrown(() => binding.smaps(4194304, false, 1, PAGE));
    expect({ code: e.code, errno: e.errno, syscall: e.syscall, path: e.path }).toEqual({ code: 'ENOENT', errno: -2, syscall: 'open', path: '/proc/4194304/smaps' });
  });
});
