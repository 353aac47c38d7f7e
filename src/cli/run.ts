/**
 * `hugespan run [--fix] [--compare] -- COMMAND ARGS…`: start a program, with the fixes for
 * the runtimes it will run on when asked, and report its anonymous memory by owner.
 * Invariant: every figure is a report's (processReport, PAGEMAP_SCAN where the kernel has it),
 * read from the live program: at --after seconds, or the last reading before it exited; the
 * fixes are only environment, and the environment set is printed.
 */
import { spawn } from 'node:child_process';
import { processReport } from '../account/report';
import type { OwnersJson, ProcessReport } from '../account/schema';
import { FIXES, fixEnv, fixesFor, OWNERS } from '../account/owners';
import type { Runtime } from '../account/owners';
import { resolveCommand, runtimesOfCommand } from '../account/owners/probe';
import { renderOwners } from './report-text';
import { EXIT, UsageError, checkPretty, formatBytes, formatPercent, jsonText, palette, parseCommandArgs, renderTable } from './ui';

export const usage = `usage: hugespan run [--fix] [--compare] [--after SECONDS] [--interval SECONDS] [--json [--pretty]] -- COMMAND [ARGS…]

Start COMMAND and report its anonymous memory by owner (glibc's arenas, V8's heap, the Go
heap, the Java heap …) with what is on huge pages (report's figures): after --after seconds
(then it is sent SIGTERM), or else as last read before it exited (read every --interval
seconds, default 1).

  --fix       start it with the fixes for the runtimes it will run on (read from its files:
              glibc, jemalloc, tcmalloc, CPython, the JVM …) set in its environment
  --compare   run it twice, as it is and with the fixes, and show both side by side
              (needs --after, so both are read at the same point of their run)
  --json      the reports' owners and totals as JSON; the program's stdout goes to stderr`;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Reading {
  pid: number;
  env: Record<string, string>;
  /** Seconds after start when it was read. */
  at: number;
  /** Whether the program exited before --after (the reading is the last one before exit). */
  exited: boolean;
  exitCode: number | null;
  report: ProcessReport | undefined;
}

/** Start the program with `env` added, read it at `after` seconds (or the last reading before exit). */
async function runOnce(cmd: string, args: string[], env: Record<string, string>, options: { after?: number; interval: number; quietStdout: boolean }): Promise<Reading> {
  const child = spawn(cmd, args, { stdio: ['inherit', options.quietStdout ? process.stderr : 'inherit', 'inherit'], env: { ...process.env, ...env } });
  const started = Date.now();
  const exit = new Promise<number | null>((resolve, reject) => {
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : null)));
    child.on('error', reject);
  });
  let exited = false;
  let exitCode: number | null = null;
  void exit.then((c) => {
    exited = true;
    exitCode = c;
  });
  let report: ProcessReport | undefined;
  let at = 0;
  const deadline = options.after === undefined ? Infinity : started + options.after * 1000;
  while (!exited) {
    const wait = Math.min(options.interval * 1000, deadline - Date.now());
    if (wait > 0) await Promise.race([sleep(wait), exit]);
    if (exited) break;
    try {
      report = processReport(child.pid!, { exact: true });
      at = (Date.now() - started) / 1000;
    } catch {
      // it exited between the check and the read: the last reading stands
    }
    if (Date.now() >= deadline) {
      child.kill('SIGTERM');
      const code = await exit;
      return { pid: child.pid!, env, at, exited: false, exitCode: code, report };
    }
  }
  await exit;
  return { pid: child.pid!, env, at, exited: true, exitCode, report };
}

/** The environment of the fixes that hold for these runtimes (every owner they could make). */
export function fixesForRuntimes(runtimes: Runtime[]): { env: Record<string, string>; actions: string[] } {
  const picked = fixesFor({ runtimes, entries: [] }, OWNERS.map((o) => o.code)).filter((f) => f.fix.env);
  const fixes = FIXES.filter((f) => picked.some((p) => p.fix === f));
  return { env: fixEnv(fixes, process.env), actions: fixes.map((f) => `${f.owners.join(', ')}: ${f.action}`) };
}

function describe(r: Reading): string {
  const when = r.exited ? `as last read, ${r.at.toFixed(1)} s after start (it exited ${r.exitCode})` : `at ${r.at.toFixed(1)} s`;
  return `pid ${r.pid} ${when}`;
}

function renderOne(r: Reading, paint: ReturnType<typeof palette>): string {
  if (!r.report) return `${describe(r)}: it exited before it could be read\n`;
  const t = r.report.totals;
  const env = Object.entries(r.env).map(([k, v]) => `${k}=${v}`).join(' ') || 'none';
  return [
    `${paint.bold(describe(r))} · fixes set: ${env}`,
    `anonymous ${formatBytes(t.anonymous)} · on huge pages ${formatBytes(t.anonHugePages)} (${formatPercent(t.coverage)}) · ${r.report.method}`,
    r.report.owners ? renderOwners(r.report.owners, paint) : 'owners: its maps could not be read',
    '',
  ].join('\n');
}

function renderCompare(a: Reading, b: Reading, paint: ReturnType<typeof palette>): string {
  const owners = new Map<string, [OwnersJson['byOwner'][number] | undefined, OwnersJson['byOwner'][number] | undefined]>();
  for (const t of a.report?.owners?.byOwner ?? []) owners.set(t.owner, [t, undefined]);
  for (const t of b.report?.owners?.byOwner ?? []) owners.set(t.owner, [owners.get(t.owner)?.[0], t]);
  const cell = (t?: { anonymous: number; anonHugePages: number }): string[] => (t ? [formatBytes(t.anonymous), formatBytes(t.anonHugePages)] : ['-', '-']);
  const rows = [...owners.entries()].map(([o, [x, y]]) => [o, ...cell(x), ...cell(y)]);
  rows.push(['total', ...cell(a.report?.totals), ...cell(b.report?.totals)]);
  const env = Object.entries(b.env).map(([k, v]) => `${k}=${v}`).join(' ') || 'none (no knob for its runtimes)';
  return [
    `${paint.bold('as it is')}: ${describe(a)}`,
    `${paint.bold('with fixes')}: ${describe(b)} · ${env}`,
    renderTable([{ title: 'owner' }, { title: 'anon', align: 'right' }, { title: 'huge', align: 'right' }, { title: 'anon (fixed)', align: 'right' }, { title: 'huge (fixed)', align: 'right' }], rows, { header: paint.bold }),
    '',
  ].join('\n');
}

const summary = (r: Reading) => ({ pid: r.pid, env: r.env, at: r.at, exited: r.exited, exitCode: r.exitCode, totals: r.report?.totals ?? null, owners: r.report?.owners ?? null });

export async function run(argv: string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const command = dash < 0 ? [] : argv.slice(dash + 1);
  const v = parseCommandArgs(own, { fix: { type: 'boolean' }, compare: { type: 'boolean' }, after: { type: 'string' }, interval: { type: 'string' }, json: { type: 'boolean' }, pretty: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (v.help) {
    process.stdout.write(`${usage}\n`);
    return EXIT.ok;
  }
  checkPretty(v.pretty, v.json);
  if (!command.length) throw new UsageError('run needs a command after --: hugespan run [--fix] -- COMMAND [ARGS…]');
  const seconds = (text: string | undefined, flag: string): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(n > 0) || n > 86400) throw new UsageError(`${flag} wants seconds, more than 0 and at most 86400, not '${text}'`);
    return n;
  };
  const after = seconds(v.after, '--after');
  const interval = seconds(v.interval, '--interval') ?? 1;
  if (v.compare && after === undefined) throw new UsageError('--compare needs --after SECONDS: both runs are read at the same point');
  if (v.compare && v.fix) throw new UsageError('--compare already runs it with the fixes; leave out --fix');
  const file = resolveCommand(command[0]);
  if (!file) throw new UsageError(`no such command: '${command[0]}' (not found on PATH)`);
  const runtimes = runtimesOfCommand(file, process.env);
  const fixes = fixesForRuntimes(runtimes);
  const options = { after, interval, quietStdout: v.json ?? false };
  const paint = palette();
  const head = `${paint.bold(command.join(' '))} · runtimes: ${runtimes.map((r) => `${r.name}${r.version ? ` ${r.version}` : ''}`).join(', ') || 'none recognised'}\n`;
  if (v.compare) {
    const a = await runOnce(command[0], command.slice(1), {}, options);
    const b = await runOnce(command[0], command.slice(1), fixes.env, options);
    process.stdout.write(v.json ? jsonText({ kind: 'run', command, runtimes, fixes: fixes.actions, runs: [summary(a), summary(b)] }, v.pretty) : `${head}${renderCompare(a, b, paint)}`);
    return EXIT.ok;
  }
  const r = await runOnce(command[0], command.slice(1), v.fix ? fixes.env : {}, options);
  process.stdout.write(v.json ? jsonText({ kind: 'run', command, runtimes, fixes: v.fix ? fixes.actions : [], runs: [summary(r)] }, v.pretty) : `${head}${renderOne(r, paint)}`);
  return EXIT.ok;
}
