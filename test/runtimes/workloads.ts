/**
 * The real runtimes test:runtimes runs, each with a workload that allocates a known amount
 * through one owner, and the command that builds or finds it. Invariant: a runtime that is
 * not here says why (`missing`), so its tests skip with that reason, never silently.
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Owner } from '../../src/account/owners';

export const DIR = path.join(__dirname, 'workloads');
const BIN = path.join('/tmp', `hugespan-runtimes-${process.getuid?.() ?? 0}`);
const LIB = '/usr/lib/x86_64-linux-gnu';

export interface Workload {
  name: string;
  /** Who must own the bytes it allocates. */
  owner: Owner;
  /** Bytes it allocates and writes through that owner. */
  allocated: number;
  /** Why it cannot run here, or undefined. */
  missing(): string | undefined;
  command(): { file: string; args: string[]; env?: Record<string, string> };
}

const MiB = 1 << 20;
export const SIZE_MIB = 128;

function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

let built: Record<string, string | undefined> | undefined;
/** Build the C and Go workloads once into /tmp; per binary the reason it could not be built. */
function build(): Record<string, string | undefined> {
  if (built) return built;
  built = {};
  fs.mkdirSync(BIN, { recursive: true });
  if (!which('gcc')) built.c = 'gcc is not installed (apt-get install gcc)';
  else {
    const r = spawnSync('gcc', ['-O1', '-pthread', '-o', path.join(BIN, 'alloc'), path.join(DIR, 'alloc.c')], { encoding: 'utf8' });
    if (r.status !== 0) built.c = `gcc failed: ${r.stderr}`;
  }
  if (!which('go')) built.go = 'go is not installed (apt-get install golang-go)';
  else {
    fs.copyFileSync(path.join(DIR, 'alloc.go'), path.join(BIN, 'alloc.go'));
    const r = spawnSync('go', ['build', '-o', path.join(BIN, 'alloc-go'), 'alloc.go'], { cwd: BIN, encoding: 'utf8', env: { ...process.env, GOCACHE: path.join(BIN, 'gocache'), GO111MODULE: 'off', HOME: BIN } });
    if (r.status !== 0) built.go = `go build failed: ${r.stderr}`;
  }
  return built;
}

const cProgram = (name: string, owner: Owner, mode: string, preload?: string): Workload => ({
  name,
  owner,
  allocated: SIZE_MIB * MiB,
  missing: () => build().c ?? (preload && !fs.existsSync(preload) ? `${preload} is not installed` : undefined),
  command: () => ({ file: path.join(BIN, 'alloc'), args: [mode, String(SIZE_MIB)], env: preload ? { LD_PRELOAD: preload } : undefined }),
});

export const WORKLOADS: Workload[] = [
  cProgram('glibc-heap', 'glibc-main-arena', 'heap'),
  cProgram('glibc-arena', 'glibc-thread-arena', 'arena'),
  cProgram('glibc-mmap', 'glibc-mmap-chunk', 'mmap'),
  cProgram('thread-stack', 'thread-stack', 'stack'),
  cProgram('jemalloc', 'jemalloc', 'mmap', `${LIB}/libjemalloc.so.2`),
  cProgram('tcmalloc', 'tcmalloc', 'heap', `${LIB}/libtcmalloc.so.4`),
  {
    name: 'node-v8',
    owner: 'v8-heap',
    allocated: SIZE_MIB * MiB,
    missing: () => undefined,
    command: () => ({ file: process.execPath, args: [path.join(DIR, 'alloc.js'), 'v8', String(SIZE_MIB)] }),
  },
  {
    name: 'node-buffer',
    owner: 'glibc-mmap-chunk',
    allocated: SIZE_MIB * MiB,
    missing: () => undefined,
    command: () => ({ file: process.execPath, args: [path.join(DIR, 'alloc.js'), 'buffer', String(SIZE_MIB)] }),
  },
  {
    name: 'python3',
    owner: 'cpython-arenas',
    allocated: SIZE_MIB * MiB,
    missing: () => (which('python3') ? undefined : 'python3 is not installed (apt-get install python3)'),
    command: () => ({ file: which('python3')!, args: [path.join(DIR, 'alloc.py'), String(SIZE_MIB)] }),
  },
  {
    // Not a runtime hugespan knows: no runtime owner, its string goes to the allocator underneath.
    name: 'perl',
    owner: 'glibc-mmap-chunk',
    allocated: SIZE_MIB * MiB,
    missing: () => (which('perl') ? undefined : 'perl is not installed'),
    command: () => ({ file: which('perl')!, args: [path.join(DIR, 'alloc.pl'), String(SIZE_MIB)] }),
  },
  {
    name: 'go',
    owner: 'go-heap',
    allocated: SIZE_MIB * MiB,
    missing: () => build().go,
    command: () => ({ file: path.join(BIN, 'alloc-go'), args: [String(SIZE_MIB)] }),
  },
  {
    name: 'jvm',
    owner: 'jvm-heap',
    allocated: SIZE_MIB * MiB,
    missing: () => (which('java') ? undefined : 'java is not installed (apt-get install openjdk-17-jre-headless)'),
    command: () => ({ file: which('java')!, args: ['-Xmx512m', '-XX:+UseG1GC', path.join(DIR, 'Alloc.java'), String(SIZE_MIB)] }),
  },
];

/** Start a workload (extra environment on top) and resolve once it has written every byte. */
export function start(w: Workload, env: Record<string, string> = {}): Promise<ChildProcess> {
  const { file, args, env: own } = w.command();
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...own, ...env } });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${w.name}: no "ready" within 120 s; stderr: ${err}`));
    }, 120000);
    child.stdout!.on('data', (d) => {
      if (String(d).includes('ready')) {
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${w.name} exited ${code} before it was ready; stderr: ${err}`));
    });
  });
}

/** End a workload: close its stdin, and kill it if it lingers. */
export async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  // The start()'s listener rejects a workload that exits early: not now.
  child.removeAllListeners('exit');
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stdin!.end();
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(t);
}
