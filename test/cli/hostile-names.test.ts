/**
 * No process can write into the terminal of whoever runs hugespan. A C child renames itself
 * (prctl PR_SET_NAME) and maps a file whose name both hold ESC (an SGR that paints the
 * background red), BEL, CR, LF, DEL and bytes that are not UTF-8; every text view that prints
 * a comm or a path — report (host, --pid, --cgroup), why, map, with colour on and off — must
 * show them escaped and pass no control byte through but its own colour codes; JSON stays JSON.
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from './cli';
import { printable, jsonSafe } from '../../src/cli/printable';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>
int main(int argc, char **argv) {
  const char hostile[] = "\x1b[41mE\x07\r\n\x7f\xff";
  char file[4096];
  snprintf(file, sizeof file, "%s/f%s.bin", argv[1], hostile);
  int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (fd < 0 || ftruncate(fd, 8 << 20) != 0) return 2;
  char *f = mmap(0, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  char *a = mmap(0, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (f == MAP_FAILED || a == MAP_FAILED) return 3;
  for (long i = 0; i < (8 << 20); i += 4096) f[i] = a[i] = 1; /* copy-on-write: anonymous pages */
  if (prctl(PR_SET_NAME, hostile) != 0) return 4;
  printf("ready\n");
  fflush(stdout);
  char c;
  while (read(0, &c, 1) > 0) {}
  return 0;
}
`;

// What the child names itself, as the addon decodes it (the byte 0xff is not UTF-8).
const COMM = '\x1b[41mE\x07\r\n\x7f\ufffd';
const SHOWN = '\\x1b[41mE\\x07\\x0d\\x0a\\x7f\\u{fffd}';
// In a path smaps itself writes the newline as the four characters \012 (and nothing else).
const FILE = 'f\x1b[41mE\x07\r\\012\x7f\ufffd.bin';
const FILE_SHOWN = 'f\\x1b[41mE\\x07\\x0d\\\\012\\x7f\\u{fffd}.bin';

const cc = spawnSync('cc', ['--version']).status === 0;
let dir = '';
let child: ChildProcess | undefined;
let pid = 0;

beforeAll(async () => {
  if (!cc) return;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-hostile-'));
  const bin = path.join(dir, 'hostile');
  fs.writeFileSync(`${bin}.c`, SOURCE);
  const built = spawnSync('cc', ['-O1', '-o', bin, `${bin}.c`], { encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`cc failed: ${built.stderr}`);
  child = spawn(bin, [dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child!.once('exit', (code) => reject(new Error(`the hostile child exited (${code}) before it was ready`)));
    child!.stdout!.once('data', () => resolve());
  });
  pid = child.pid!;
});

afterAll(() => {
  child?.kill('SIGKILL');
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Control bytes in `text` that are not a newline nor one of hugespan's own colour codes. */
function foreignControls(text: string): string[] {
  const ours = /\x1b\[(?:1|22|2|39|38;5;\d+|3\d|9\d)m/g; // hugespan's own SGR: bold, dim, the 8 colours and their bright forms (map's reasons)
  return [...text.replace(ours, '').matchAll(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g)].map((m) => JSON.stringify(m[0]));
}

/** The directory of `pid`'s memory cgroup: v2's unified one, else v1's memory controller. */
function memoryCgroup(p: number): string {
  const lines = fs.readFileSync(`/proc/${p}/cgroup`, 'utf8').trim().split('\n');
  const v2 = lines.find((l) => l.startsWith('0::'));
  if (v2 && fs.existsSync('/sys/fs/cgroup/cgroup.controllers')) return path.join('/sys/fs/cgroup', v2.slice(3));
  const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes('memory'));
  return v1 ? path.join('/sys/fs/cgroup/memory', v1.split(':')[2]) : '/nonexistent';
}

// Each view, and whether it prints the file's path (map draws anonymous VMAs only; the host
// and cgroup views name processes, not mappings).
const VIEWS: [string, () => string[], boolean][] = [
  ['report --pid', () => ['report', '--pid', String(pid), '--all'], true],
  ['why', () => ['why', '--pid', String(pid), '--all'], true],
  ['map', () => ['map', '--pid', String(pid), '--min-size', '1M'], false],
  ['report (host view)', () => ['report', '--all'], false],
  ['report --cgroup', () => ['report', '--cgroup', memoryCgroup(pid)], false],
];

describe('names chosen by another process are printed escaped', () => {
  const gate = cc ? it : it.skip;
  if (!cc) it('skips: no C compiler (cc) on this host to build the hostile child', () => undefined);

  for (const [name, args, paths] of VIEWS) {
    for (const colour of [false, true]) {
      gate(`${name}, colour ${colour ? 'on' : 'off'}: the comm${paths ? ' and the path' : ''} escaped, no foreign control byte`, () => {
        const argv = args();
        if (name.includes('cgroup') && !fs.existsSync(path.join(argv[2], 'memory.stat'))) {
          console.log(`skipped: the child's memory cgroup (${argv[2]}) has no memory.stat here`);
          return;
        }
        const r = cli(argv, { env: colour ? { FORCE_COLOR: '1' } : { NO_COLOR: '1' } });
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect(r.stdout).toContain(SHOWN);
        if (paths) expect(r.stdout).toContain(`/${FILE_SHOWN}`);
        expect(foreignControls(r.stdout)).toEqual([]);
        if (colour) expect(r.stdout).toMatch(/\x1b\[1m/); // colour really was on
      });
    }
  }

  gate('JSON keeps the names as they are, JSON-escaped, with no raw control byte', () => {
    const r = cli(['report', '--pid', String(pid), '--json']);
    expect(r.status).toBe(0);
    expect(foreignControls(r.stdout)).toEqual([]);
    const j = JSON.parse(r.stdout);
    expect(j.comm).toBe(COMM);
    expect(j.vmas.some((v: { path: string }) => v.path === `${dir}/${FILE}`)).toBe(true);
  });

  gate('an error quoting a hostile name is escaped too', () => {
    const r = cli(['report', '--cgroup', `${dir}/no\x1b[41mcgroup`]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('no\\x1b[41mcgroup');
    expect(foreignControls(r.stderr)).toEqual([]);
  });
});

describe('printable and jsonSafe', () => {
  it('escape every control, bidi override, separator and the backslash; leave other text alone', () => {
    expect(printable('plain [anon] /usr/lib/libc.so.6 (deleted) été 漢字 🙂')).toBe('plain [anon] /usr/lib/libc.so.6 (deleted) été 漢字 🙂');
    expect(printable('a\\b')).toBe('a\\\\b');
    expect(printable('\x00\x1b\x7f\x9b')).toBe('\\x00\\x1b\\x7f\\x9b');
    expect(printable('\u202eevil\u2066\u2028\ufeff\u200b')).toBe('\\u{202e}evil\\u{2066}\\u{2028}\\u{feff}\\u{200b}');
    expect(printable('\ud800x\udc00')).toBe('\\u{d800}x\\u{dc00}');
  });

  it('jsonSafe keeps the JSON value and leaves no raw C1, DEL or bidi character', () => {
    const value = { s: 'a\x7f\x9b\u202e\u2028b\x1b' };
    const text = jsonSafe(JSON.stringify(value));
    expect(JSON.parse(text)).toEqual(value);
    expect(text).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202e\u2028]/);
    expect(jsonSafe('{"a":1}')).toBe('{"a":1}');
  });
});
