/**
 * Running hugespan as a user would (`node dist/cli/main.js …`) against a target process whose
 * memory layout the test made, so the expected numbers are known exactly. Every process started
 * here is stopped by the caller's afterAll; targets also exit when their stdin closes.
 */
import { spawn, spawnSync, ChildProcess, SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from '../support/child';
import { hugePageSize } from '../../src/native/host';
import { MiB } from '../support/thp';

export const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
export const H = hugePageSize() || 2 * MiB;

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** hugespan with `args`; colour and terminal variables are cleared unless `env` sets them. `main`: another copy of the CLI. */
export function cli(args: string[], options: SpawnSyncOptions & { main?: string } = {}): CliResult {
  const { main = CLI, ...spawnOptions } = options;
  const env = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...options.env };
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 50000, ...spawnOptions, env });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
}

export interface PortableCli {
  /** hugespan `args`, run from the copy as the given user. */
  run(args: string[]): CliResult;
  /** Why the copy still cannot run as that user (from a probe that loads the addon), if it cannot. */
  skip?: string;
  /** Remove the copy. */
  dispose(): void;
}

/** Everyone may enter the directories and read the files (and run what was executable). */
function openToAll(p: string): void {
  const st = fs.statSync(p);
  fs.chmodSync(p, st.isDirectory() || st.mode & 0o100 ? 0o755 : 0o644);
  if (st.isDirectory()) for (const e of fs.readdirSync(p)) openToAll(path.join(p, e));
}

/**
 * The built CLI as another user (`uid`, `gid`) runs it, wherever this clone lives: a clone in a
 * directory that user cannot enter (/root and every mktemp -d are 0700) is out of its reach, so
 * what the CLI loads at run time — dist/, the addon, package.json; no node_modules — is copied
 * into a fresh temporary directory open to all, and run from there.
 */
export function portableCli(as: { uid: number; gid: number }): PortableCli {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-cli-'));
  const release = path.join(ROOT, 'build', 'Release');
  fs.cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'build', 'Release'), { recursive: true });
  for (const f of fs.readdirSync(release).filter((f) => f.endsWith('.node'))) fs.copyFileSync(path.join(release, f), path.join(dir, 'build', 'Release', f));
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  openToAll(dir);
  const options = { uid: as.uid, gid: as.gid, cwd: dir, main: path.join(dir, 'dist', 'cli', 'main.js') };
  // `report --help` loads the report command and with it the addon: what every test here needs.
  const probe = cli(['report', '--help'], options);
  const skip = probe.status === 0 ? undefined : `uid ${as.uid} cannot run even a copy of hugespan in ${dir} (exit ${probe.status}): ${probe.stderr.split('\n')[0]}`;
  return { run: (args) => cli(args, options), skip, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Whether script(1) is here to give the CLI a real terminal (a pty). */
export const hasScript = spawnSync('script', ['--version']).status === 0;

/** hugespan on a terminal, via script(1): returns what the terminal received. */
export function cliOnTty(args: string[], env: Record<string, string | undefined> = {}): string {
  const command = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
  return spawnSync('script', ['-qec', command, '/dev/null'], {
    encoding: 'utf8',
    timeout: 50000,
    env: { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...env },
  }).stdout;
}

/** hugespan's JSON output, failing loudly with its stderr when it did not give any. */
export function cliJson(args: string[], options: SpawnSyncOptions = {}): any {
  const r = cli([...args, '--json'], options);
  if (r.status !== 0) throw new Error(`hugespan ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

export interface Region {
  start: number;
  end: number;
}

/** The target's regions, each exactly one VMA. */
export interface Layout {
  /** 32 MiB advised hugepage, all touched: 16 huge frames. */
  huge: Region;
  /** 8 MiB advised nohugepage, all touched. */
  nh: Region;
  /** 16 MiB advised hugepage, first half touched: 4 huge frames then 4 empty. */
  half: Region;
  /** 200 MiB advised nohugepage, one page touched: 100 `nh` frames, more than a line holds. */
  wide: Region;
}

export interface Target {
  pid: number;
  layout: Layout;
  stop(): Promise<void>;
}

// Each region sits inside its own mapping with an untouched huge page of margin either side:
// the margins carry no hg/nh flag, so the region is one VMA whatever the kernel puts next to
// it. The target uses the package's public API (a Mapping only ever touches memory it mapped);
// the Mappings are kept: a collected Mapping unmaps its memory.
const target = (thpDisabled: boolean): string => `
  const { Mapping, setThpDisabledForSelf } = require(${JSON.stringify(ROOT)});
  // A target sets its own THP switch rather than inherit the runner's (npm run test:hosts runs
  // the suite under PR_SET_THP_DISABLE): what these tests read is the target's state.
  setThpDisabledForSelf(${thpDisabled});
  const H = ${H};
  const kept = [];
  const region = (length, advice, touched) => {
    const m = new Mapping(length + 2 * H, { align: 'hugepage', commit: true });
    kept.push(m);
    m.advise(advice, H, length);
    m.touch(H, touched);
    return { start: m.address + H, end: m.address + H + length };
  };
  const layout = {
    huge: region(${32 * MiB}, 'hugepage', ${32 * MiB}),
    nh: region(${8 * MiB}, 'nohugepage', ${8 * MiB}),
    half: region(${16 * MiB}, 'hugepage', ${8 * MiB}),
    wide: region(${200 * MiB}, 'nohugepage', 4096),
  };
  console.log(JSON.stringify(layout));
  process.stdin.on('end', () => process.exit(0)).resume();
`;

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
}

/**
 * A node process holding the Layout; resolves once its memory is in place. `thpDisabled`:
 * the process first turns THP off for itself (prctl PR_SET_THP_DISABLE).
 */
export function startTarget(options: { thpDisabled?: boolean } = {}): Promise<Target> {
  const child = spawn(process.execPath, ['-e', target(options.thpDisabled ?? false)], { stdio: ['pipe', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('exit', (code) => reject(new Error(`the target exited (${code}) before reporting its layout`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve({ pid: child.pid!, layout: JSON.parse(out) as Layout, stop: stopper(child) });
    });
  });
}

/** A process with next to no memory, for tests that only need a pid. */
export function startSleeper(seconds = 30): { pid: number; child: ChildProcess; stop(): Promise<void> } {
  const child = spawn('sleep', [String(seconds)], { stdio: 'ignore' });
  return { pid: child.pid!, child, stop: stopper(child) };
}

/** /proc/<pid>/stat split after the command name: [state, ppid, …]. */
export function statFields(pid: number): string[] | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/**
 * What the host itself rules out, read straight from sysfs (not through the code under test):
 * the reason hugespan gives when no process here can have huge pages, else undefined. Where it
 * is set, it wins over a process's own prctl switch in every line hugespan prints.
 */
export function hostThpBlock(): string | undefined {
  const read = (f: string) => {
    try {
      return fs.readFileSync(`/sys/kernel/mm/transparent_hugepage/${f}`, 'utf8');
    } catch {
      return undefined;
    }
  };
  if (!(Number(read('hpage_pmd_size')) > 0)) return 'this kernel has no transparent huge pages';
  return /\[never\]/.test(read('enabled') ?? '') ? 'THP is off host-wide (enabled=never)' : undefined;
}

/** The hex form hugespan prints a region's range in (as smaps does). */
export function range(r: Region): string {
  return `${r.start.toString(16)}-${r.end.toString(16)}`;
}
