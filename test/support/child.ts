/**
 * Run a snippet of JS in a fresh node process with the addon loaded as `binding`.
 * Invariant: a child that times out, is killed or prints no JSON fails the test saying so
 * (status, signal, the tail of its stderr), never as a TypeError on a missing field.
 */
import { spawnSync, SpawnSyncOptions } from 'node:child_process';
import * as path from 'node:path';

export const ROOT = path.join(__dirname, '..', '..');
export const ADDON: string = (require('../../src/native/binding') as typeof import('../../src/native/binding')).addonFile(); // the file the one loader picks (build/Release, else a prebuild)

const SMAPS = path.join(ROOT, 'dist', 'native', 'smaps.js');
const MAPPING = path.join(ROOT, 'dist', 'native', 'mapping.js');

/**
 * How long a child may run: long enough for a loaded 2-core host or a sanitizer build;
 * `npm run stress` raises it with HUGESPAN_CHILD_TIMEOUT_MS for its heavier counts.
 */
export const CHILD_TIMEOUT_MS = heavyCount('HUGESPAN_CHILD_TIMEOUT_MS', 60000);

export interface ChildResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The last stdout line parsed as JSON; reading it throws, with the child's story, when there is none. */
  readonly json: any;
}

function tail(text: string, n = 2000): string {
  return text.length > n ? `…${text.slice(-n)}` : text;
}

/**
 * Runs `code` with `binding` bound to the addon, `Mapping` to the public class and
 * `readSmaps`/`readSmapsRollup` to the built readers (npm test builds dist first); returns its
 * output and its parsed JSON stdout. Throws if the child could not run or ran out of time.
 */
export function runChild(code: string, options: SpawnSyncOptions & { nodeArgs?: string[] } = {}): ChildResult {
  const script =
    `const binding = require(${JSON.stringify(ADDON)});\n` +
    `const { readSmaps, readSmapsRollup } = require(${JSON.stringify(SMAPS)});\n` +
    `const { Mapping } = require(${JSON.stringify(MAPPING)});\n${code}`;
  const timeout = Number(options.timeout ?? CHILD_TIMEOUT_MS);
  const r = spawnSync(process.execPath, [...(options.nodeArgs ?? []), '-e', script], { encoding: 'utf8', ...options, timeout });
  const stdout = String(r.stdout ?? '');
  const stderr = String(r.stderr ?? '');
  const err = r.error as NodeJS.ErrnoException | undefined;
  // spawnSync reports a timeout as error ETIMEDOUT with the child killed by SIGTERM.
  if (err?.code === 'ETIMEDOUT') {
    throw new Error(`child timed out after ${timeout / 1000} s and was killed (${r.signal ?? 'SIGTERM'}); stderr: ${tail(stderr) || '(empty)'}`);
  }
  if (err) throw new Error(`child could not run: ${err.message}`);
  let parsed: { ok: true; value: any } | { ok: false; why: string };
  try {
    parsed = { ok: true, value: JSON.parse(stdout.trim().split('\n').pop() ?? '') };
  } catch (e) {
    parsed = { ok: false, why: (e as Error).message };
  }
  return {
    status: r.status,
    signal: r.signal,
    stdout,
    stderr,
    get json() {
      if (parsed.ok) return parsed.value;
      throw new Error(
        `child printed no JSON line (${parsed.why}): status ${r.status}, signal ${r.signal}; ` +
          `stdout: ${tail(stdout, 500) || '(empty)'}; stderr: ${tail(stderr) || '(empty)'}`,
      );
    },
  };
}

/**
 * Under AddressSanitizer (npm run test:asan) the sanitizer's allocator keeps freed memory in
 * quarantine and maps its own memory where ours was: RSS and "no VMA at our old address"
 * mean nothing there. Those checks skip with this reason; the exact unmap counters still hold.
 */
export const ASAN_REASON = process.env.HUGESPAN_ASAN
  ? "under AddressSanitizer, whose quarantine and allocator reuse our freed address ranges and hold RSS"
  : undefined;

/**
 * A count for a heavy loop: `quick` in `npm test`, or the environment's value when
 * `npm run stress` (scripts/stress.js) runs the same test file harder.
 */
export function heavyCount(envName: string, quick: number): number {
  const v = process.env[envName];
  if (v === undefined || v === '') return quick;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${envName}=${v}: want a positive integer`);
  return n;
}

/** A progress line on stderr, so a long test is never silent for more than ~10 s. */
export function progress(what: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${what}\n`);
}
