/**
 * What owner detection reads of a live process, in one value that can be recorded to a file and
 * replayed (test/fixtures/owners/): its maps, exe, cmdline, threads' stack pointers, the first
 * two words of each private anonymous VMA whose first page is present, and the versions of the
 * runtimes it maps. Invariant: reading never changes the target: a VMA's first page is read only
 * when pagemap says it is present (a read of an absent page would map the zero page there and
 * could keep that 2 MiB frame off a huge page); every failure leaves its field empty, for the
 * evidence to say so.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bssBytes, goVersion, glibcVersion, gperftoolsVersion, jemallocVersion } from './elf';
import { PROGRAM_FILE_MAX, readProgramFile } from './program-file';
import { argError, arrayArg, intArg, numberArg, objectArg, objectField, optional, stringArg } from '../../native/args';

/** A VMA's first two 8-byte words, or why they are not known. */
export type Head = [number, number] | 'absent' | 'swapped' | 'unreadable';

export interface OwnerSnapshot {
  pid: number;
  /** readlink /proc/PID/exe ('' when not permitted). */
  exe: string;
  cmdline: string[];
  /** /proc/PID/maps as read. */
  maps: string;
  /** Each thread's stack pointer (task/TID/syscall), where the kernel tells (root or ptrace access). */
  stackPointers: number[];
  /** Threads whose stack pointer could not be read (running, or not permitted). */
  threadsUnread: number;
  /** By VMA start ("0x…"): the first two words (glibc's chunk header: prev_size, size). */
  heads: Record<string, Head>;
  /** The runtimes' versions, where read: glibc, go, python, java, node. */
  versions: Partial<Record<'glibc' | 'go' | 'python' | 'java' | 'node' | 'jemalloc' | 'tcmalloc', string>>;
  /** Per file whose writable segment has anonymous memory right after it: its ELF .bss bytes (writable PT_LOAD memsz - filesz). */
  bss?: Record<string, number>;
}

/** A snapshot from a caller, copied field by field and checked (attributeOwners reads only the copy). */
export function snapshotArg(value: unknown): OwnerSnapshot {
  const o = objectArg(value, 'snapshot');
  const f = (k: string): unknown => objectField(o, k, 'snapshot');
  const record = <T>(v: unknown, name: string, check: (x: unknown, n: string) => T): Record<string, T> => {
    const r = objectArg(v, name);
    let keys: string[];
    try {
      keys = Object.keys(r);
    } catch (cause) {
      throw Object.assign(argError(TypeError, 'ERR_INVALID_ARG_VALUE', `The "${name}" keys could not be read`), { cause });
    }
    const out: Record<string, T> = {};
    for (const k of keys) out[k] = check(objectField(r, k, name), `${name}.${k}`);
    return out;
  };
  const head = (v: unknown, name: string): Head => {
    if (v === 'absent' || v === 'swapped' || v === 'unreadable') return v;
    const [a, b] = arrayArg(v, name, 2);
    return [numberArg(a, `${name}[0]`), numberArg(b, `${name}[1]`)];
  };
  return {
    pid: intArg(f('pid'), 'snapshot.pid', 0, 2 ** 31 - 1),
    exe: stringArg(f('exe'), 'snapshot.exe'),
    cmdline: arrayArg(f('cmdline'), 'snapshot.cmdline').map((a, i) => stringArg(a, `snapshot.cmdline[${i}]`)),
    maps: stringArg(f('maps'), 'snapshot.maps'),
    stackPointers: arrayArg(f('stackPointers'), 'snapshot.stackPointers').map((x, i) => numberArg(x, `snapshot.stackPointers[${i}]`)),
    threadsUnread: intArg(f('threadsUnread'), 'snapshot.threadsUnread'),
    heads: record(f('heads'), 'snapshot.heads', head),
    versions: record(f('versions'), 'snapshot.versions', stringArg) as OwnerSnapshot['versions'],
    bss: optional(f('bss'), (v, n) => record(v, n, (x, m) => numberArg(x, m)), 'snapshot.bss'),
  };
}

export interface MapsEntry {
  start: number;
  end: number;
  perms: string;
  offset: number;
  inode: number;
  path: string;
}

/** /proc/PID/maps lines as entries. */
export function parseMaps(text: string): MapsEntry[] {
  const out: MapsEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ (\d+)\s*(.*)$/.exec(line);
    if (m) out.push({ start: parseInt(m[1], 16), end: parseInt(m[2], 16), perms: m[3], offset: parseInt(m[4], 16), inode: Number(m[5]), path: m[6] });
  }
  return out;
}

/** Private anonymous memory with no name: where an allocator's header would be. */
export function plainAnon(e: MapsEntry): boolean {
  return e.inode === 0 && e.perms[3] === 'p' && e.perms[0] === 'r' && (e.path === '' || e.path.startsWith('[anon:'));
}

const PAGE = 4096;
const PM_PRESENT = 1n << 63n;
const PM_SWAP = 1n << 62n;

function tryRead<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

function readAt(fd: number, length: number, position: number): Buffer | undefined {
  const b = Buffer.alloc(length);
  return tryRead(() => fs.readSync(fd, b, 0, length, position)) === length ? b : undefined;
}

/** The first two words of each plain anonymous VMA whose first page is present. */
function readHeads(pid: number, entries: MapsEntry[]): Record<string, Head> {
  const heads: Record<string, Head> = {};
  const wanted = entries.filter(plainAnon);
  if (!wanted.length) return heads;
  const pagemap = tryRead(() => fs.openSync(`/proc/${pid}/pagemap`, 'r'));
  const mem = tryRead(() => fs.openSync(`/proc/${pid}/mem`, 'r'));
  try {
    for (const e of wanted) {
      const key = `0x${e.start.toString(16)}`;
      const entry = pagemap === undefined ? undefined : readAt(pagemap, 8, (e.start / PAGE) * 8);
      if (!entry) {
        heads[key] = 'unreadable';
        continue;
      }
      const bits = entry.readBigUInt64LE(0);
      if (bits & PM_SWAP) heads[key] = 'swapped';
      else if (!(bits & PM_PRESENT)) heads[key] = 'absent';
      else {
        const words = mem === undefined ? undefined : readAt(mem, 16, e.start);
        heads[key] = words ? [Number(words.readBigUInt64LE(0)), Number(words.readBigUInt64LE(8))] : 'unreadable';
      }
    }
  } finally {
    if (pagemap !== undefined) fs.closeSync(pagemap);
    if (mem !== undefined) fs.closeSync(mem);
  }
  return heads;
}

/** Each thread's user stack pointer: the second-last field of task/TID/syscall ("running" has none). */
function readStackPointers(pid: number): { sps: number[]; unread: number } {
  const sps: number[] = [];
  let unread = 0;
  for (const tid of tryRead(() => fs.readdirSync(`/proc/${pid}/task`)) ?? []) {
    const fields = tryRead(() => fs.readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').trim().split(' '));
    const sp = fields && fields.length >= 3 ? parseInt(fields[fields.length - 2], 16) : NaN;
    if (Number.isFinite(sp) && sp > 0) sps.push(sp);
    else unread++;
  }
  return { sps, unread };
}

const fileCache = new Map<string, string | null | undefined>();

/** A file's fact, read once per path and size (a library does not change under a running process). */
function fileFact(file: string, read: (b: Buffer) => string | null | undefined): string | null | undefined {
  // undefined: the file could not be read, or the fact is absent (not a Go binary).
  const st = tryRead(() => fs.statSync(file));
  if (!st?.isFile() || st.size > PROGRAM_FILE_MAX) return undefined;
  const key = `${file}\0${st.size}\0${st.mtimeMs}\0${read.name}`;
  if (!fileCache.has(key)) {
    const b = readProgramFile(file);
    fileCache.set(key, b && tryRead(() => read(b)));
  }
  return fileCache.get(key);
}

/** The versions of the runtimes the process maps, from their files. */
function readVersions(pid: number, exe: string, entries: MapsEntry[]): OwnerSnapshot['versions'] {
  const versions: OwnerSnapshot['versions'] = {};
  const files = [...new Set(entries.filter((e) => e.inode !== 0 && e.path.startsWith('/')).map((e) => e.path))];
  const libc = files.find((f) => /\/libc\.so\.6$|\/libc-2\.\d+\.so$/.test(f));
  const glibc = libc ? fileFact(libc, glibcVersion) : undefined;
  if (glibc) versions.glibc = glibc;
  // '' marks a Go binary whose version is not inlined (before Go 1.18).
  const go = fileFact(`/proc/${pid}/exe`, goVersion);
  if (go !== undefined) versions.go = go ?? '';
  const je = files.find((f) => /\/libjemalloc\.so/.test(f));
  const jev = je && fileFact(je, jemallocVersion);
  if (jev) versions.jemalloc = jev;
  const tc = files.find((f) => /\/libtcmalloc/.test(f));
  const tcv = tc && fileFact(tc, gperftoolsVersion);
  if (tcv) versions.tcmalloc = tcv;
  const py = [exe, ...files].map((f) => /(?:python|libpython)(\d+\.\d+)/.exec(path.basename(f))?.[1]).find(Boolean);
  if (py) versions.python = py;
  const jvm = files.find((f) => f.endsWith('/libjvm.so'));
  if (jvm) {
    const release = readProgramFile(path.join(path.dirname(jvm), '..', '..', 'release'))?.toString('utf8');
    const v = release && /^JAVA_VERSION="([^"]+)"/m.exec(release)?.[1];
    if (v) versions.java = v;
  }
  // The node running hugespan knows its own version: claim it only for the same binary.
  if (exe && tryRead(() => fs.realpathSync(process.execPath)) === exe) versions.node = process.version;
  return versions;
}

/** ELF .bss bytes as text, for the file cache. */
function bssText(b: Buffer): string | null {
  const n = bssBytes(b);
  return n === null ? null : String(n);
}

/** Everything owner detection needs of `pid`, read now. Throws only what reading maps throws. */
export function ownerSnapshot(pid: number): OwnerSnapshot {
  intArg(pid, 'pid', 1, 2 ** 31 - 1);
  const maps = fs.readFileSync(`/proc/${pid}/maps`, 'utf8');
  const entries = parseMaps(maps);
  const exe = tryRead(() => fs.readlinkSync(`/proc/${pid}/exe`)) ?? '';
  const cmdline = (tryRead(() => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8')) ?? '').split('\0').filter((a, i, all) => a !== '' || i < all.length - 1);
  const { sps, unread } = readStackPointers(pid);
  const bss: Record<string, number> = {};
  for (let i = 1; i < entries.length; i++) {
    const [f, e] = [entries[i - 1], entries[i]];
    if (f.inode !== 0 && f.path.startsWith('/') && f.perms[1] === 'w' && e.inode === 0 && e.start === f.end) {
      const n = fileFact(f.path, bssText);
      if (n) bss[f.path] = Number(n);
    }
  }
  return { pid, exe, cmdline, maps, stackPointers: sps, threadsUnread: unread, heads: readHeads(pid, entries), versions: readVersions(pid, exe, entries), bss };
}
