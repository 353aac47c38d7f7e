/**
 * Running hugespan as a user would (`node dist/cli/main.js …`) against a target process whose
 * memory layout the test made, so the expected numbers are known exactly. Every process started
 * here is stopped by the caller's afterAll; targets also exit when their stdin closes.
 */
import { spawn, spawnSync, ChildProcess, SpawnSyncOptions } from 'node:child_process';
import * as fs from 'node:fs';
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

/** hugespan with `args`; colour and terminal variables are cleared unless `env` sets them. */
export function cli(args: string[], options: SpawnSyncOptions = {}): CliResult {
  const env = { ...process.env, NO_COLOR: undefined, FORCE_COLOR: undefined, ...options.env };
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 50000, ...options, env });
  return { status: r.status, stdout: String(r.stdout), stderr: String(r.stderr) };
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
  ${thpDisabled ? 'setThpDisabledForSelf(true);' : ''}
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

/** The hex form hugespan prints a region's range in (as smaps does). */
export function range(r: Region): string {
  return `${r.start.toString(16)}-${r.end.toString(16)}`;
}
