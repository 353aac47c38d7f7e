/**
 * The parent side of the model-based fuzzer: runs child.ts in a child process per seed, so a
 * crash (a signal, an abort, V8 out of memory) or a hang is seen rather than suffered.
 * Invariant: every finding comes back with a sequence that reproduces it in a fresh process:
 * a mismatch as fast-check shrank it in the child; a crash or hang as the steps of the run that
 * died, replayed in new children and cut down (ddmin) to the fewest steps that still die the
 * same way.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { Job } from './child';
import type { Family, Step } from './commands';

const HERE = __dirname;
const transferFlag = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function' ? [] : ['--harmony-rab-gsab-transfer'];

export interface Finding {
  kind: 'mismatch' | 'crash' | 'hang';
  seed?: number;
  /** How it died (crash) or what disagreed (mismatch). */
  what: string;
  /** The reproducing sequence, shrunk. */
  steps: Step[];
  /** The sequence before shrinking (crash/hang), for the record. */
  original?: number;
  stderr?: string;
}

export interface ChildRun {
  done?: { ok: boolean; calls: number; runs?: number; error?: string; steps?: Step[]; seed?: number; path?: string; shrinks?: number };
  /** The steps of the last run the child started (all of them, if it died in it). */
  lastRun: Step[];
  calls: number;
  signal: NodeJS.Signals | null;
  status: number | null;
  hung: boolean;
  stderr: string;
}

export interface Limits {
  /** Kill the child when it has said nothing for this long (a step that never returns). */
  stepTimeoutMs: number;
}

export const DEFAULT_LIMITS: Limits = { stepTimeoutMs: Number(process.env.HUGESPAN_FUZZ_STEP_TIMEOUT_MS ?? 30000) };

/** One child: `job` in, its report (or how it died) out. */
export function runChild(job: Job, limits: Limits = DEFAULT_LIMITS): Promise<ChildRun> {
  return new Promise((resolve) => {
    const args = ['--expose-gc', ...transferFlag, '--max-old-space-size=512', '-r', path.join(HERE, 'ts-hook.js'), path.join(HERE, 'child.ts'), JSON.stringify(job)];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    let stderr = '';
    let lastRun: Step[] = [];
    let calls = 0;
    let done: ChildRun['done'];
    let hung = false;
    let timer: NodeJS.Timeout;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        hung = true;
        child.kill('SIGKILL');
      }, limits.stepTimeoutMs);
    };
    arm();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      arm();
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('STEP ')) {
          lastRun.push(JSON.parse(line.slice(5)));
          calls++;
        } else if (line.startsWith('RUN ')) lastRun = [];
        else if (line.startsWith('DONE ')) done = JSON.parse(line.slice(5));
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr = (stderr + d).slice(-4000);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ done, lastRun, calls, signal, status, hung, stderr });
    });
  });
}

/** How a child that printed no DONE died, as one comparable word. */
function death(r: ChildRun): string | undefined {
  if (r.done) return undefined;
  if (r.hung) return 'hang';
  return r.signal ? `signal ${r.signal}` : `exit ${r.status}`;
}

/**
 * The fewest steps (ddmin over chunks, then single steps) that still die as `how`, each
 * candidate replayed in a fresh child; at most `budget` children and HUGESPAN_FUZZ_SHRINK_MS
 * (3 minutes) of them.
 */
export async function shrinkDeath(families: Family[], steps: Step[], how: string, budget = 60, limits = DEFAULT_LIMITS, extra: Partial<Job> = {}): Promise<Step[]> {
  return shrinkSteps(families, steps, (r) => death(r) === how, budget, limits, extra);
}

/** An error message without what changes from run to run (addresses, ids, counts). */
function shape(error: string | undefined): string {
  return String(error).replace(/0x[0-9a-f]+/g, '#').replace(/\d+/g, '#');
}

/** ddmin over `steps` with `fails` deciding whether a replay still fails the same way. */
export async function shrinkSteps(families: Family[], steps: Step[], fails: (r: ChildRun) => boolean, budget = 60, limits = DEFAULT_LIMITS, extra: Partial<Job> = {}): Promise<Step[]> {
  let best = steps;
  let tries = 0;
  // Hangs cost a whole step timeout per candidate that still dies: bound the time too.
  const until = Date.now() + Number(process.env.HUGESPAN_FUZZ_SHRINK_MS ?? 180000);
  const left = () => tries < budget && Date.now() < until;
  const dies = async (cand: Step[]) => {
    tries++;
    const r = await runChild({ ...extra, mode: 'replay', families, steps: cand }, limits);
    return fails(r);
  };
  let n = 2;
  while (best.length > 1 && left()) {
    const size = Math.ceil(best.length / n);
    let cut = false;
    for (let i = 0; i < best.length && left(); i += size) {
      const cand = [...best.slice(0, i), ...best.slice(i + size)];
      if (cand.length && (await dies(cand))) {
        best = cand;
        n = Math.max(n - 1, 2);
        cut = true;
        break;
      }
    }
    if (!cut) {
      if (size === 1) break;
      n = Math.min(n * 2, best.length);
    }
  }
  return best;
}

export interface SeedResult {
  seed: number;
  calls: number;
  runs: number;
  finding?: Finding;
}

/**
 * One seed: `runs` fast-check runs of up to `maxCommands` steps in a child. A death is replayed
 * in a fresh child (to tell a reproducible sequence from state left by earlier runs) and shrunk.
 */
export async function fuzzSeed(seed: number, families: Family[], runs: number, maxCommands: number, limits = DEFAULT_LIMITS, shrinkBudget = 60): Promise<SeedResult> {
  const r = await runChild({ mode: 'check', families, seed, runs, maxCommands }, limits);
  if (r.done?.ok) return { seed, calls: r.calls, runs: r.done.runs ?? runs };
  if (r.done) {
    // fast-check's shrink keeps steps it cannot drop one at a time; ddmin over replays goes further.
    const error = r.done.error;
    let steps = r.done.steps ?? [];
    const same = (x: ChildRun) => x.done?.ok === false && shape(x.done.error) === shape(error);
    const original = steps.length;
    if (steps.length > 1 && same(await runChild({ mode: 'replay', families, steps }, limits))) steps = await shrinkSteps(families, steps, same, shrinkBudget, limits);
    const fc = `fast-check seed ${r.done.seed} path "${r.done.path}"`;
    return { seed, calls: r.calls, runs: r.done.runs ?? 0, finding: { kind: 'mismatch', seed, what: `${error ?? '?'} (${fc})`, steps, original } };
  }
  const how = death(r)!;
  const replay = await runChild({ mode: 'replay', families, steps: r.lastRun }, limits);
  let steps = r.lastRun;
  // The line that says why (V8's FATAL ERROR, std::terminate, a sanitizer's report) if there is one, then the tail.
  const lines = r.stderr.trim().split('\n');
  const why = lines.filter((l) => /FATAL|terminate called|what\(\)|Sanitizer|ERROR:|Segmentation/.test(l)).slice(0, 3);
  let what = `${how}; stderr: ${[...why, ...lines.slice(-3)].join(' | ')}`;
  if (death(replay) === how) steps = await shrinkDeath(families, r.lastRun, how, shrinkBudget, limits);
  else what += ` (the run alone does not reproduce it: ${death(replay) ?? 'it completed'}; the sequence is the run that died)`;
  return { seed, calls: r.calls, runs: 0, finding: { kind: how === 'hang' ? 'hang' : 'crash', seed, what, steps, original: r.lastRun.length, stderr: r.stderr } };
}

/** A finding as the lines to print: what, the seed, and the sequence to replay. */
export function describe(f: Finding): string {
  return [
    `${f.kind.toUpperCase()} (seed ${f.seed}): ${f.what}`,
    `  sequence (${f.steps.length} steps${f.original ? `, shrunk from ${f.original}` : ''}):`,
    ...f.steps.map((s) => `    ${JSON.stringify(s)}`),
  ].join('\n');
}
