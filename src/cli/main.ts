#!/usr/bin/env node
/**
 * The `hugespan` command: picks a subcommand, runs it, and turns what it throws into an exit code.
 * Invariant: a subcommand is loaded only when chosen, so --help and --version work even where
 * the native addon cannot load; every failure leaves as one `hugespan: …` line on stderr (a
 * usage error adds one hint line); help goes to stdout, and only when asked for.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliError, EXIT, UsageError, reportFailure } from './ui';

/** What every subcommand module exports. */
interface Command {
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, { summary: string; load: () => Command }> = {
  report: { summary: 'how much of a process (--pid), or of the whole system, is on huge pages', load: () => require('./report') as typeof import('./report') },
  why: { summary: "where a process's memory is not on huge pages, and why, biggest first", load: () => require('./why') as typeof import('./why') },
  map: { summary: "a picture of a process's large anonymous VMAs, one cell per huge page frame", load: () => require('./map') as typeof import('./map') },
  collapse: { summary: 'collapse into huge pages, now, the frames of a process that khugepaged would', load: () => require('./collapse') as typeof import('./collapse') },
  run: { summary: 'start a program (with its runtime\'s fixes: --fix) and report its memory by owner; --compare both ways', load: () => require('./run') as typeof import('./run') },
  serve: { summary: 'a Prometheus exporter of the same figures (/metrics, OpenMetrics or text)', load: () => require('./serve') as typeof import('./serve') },
  // Typed by hand: lab.ts may be written after this file.
  lab: { summary: 'the span heap under churn, per coalescing policy, checked against the kernel', load: () => require('./lab') as Command },
};

const HELP = `usage: hugespan <command> [options]

${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`)
  .join('\n')}

  hugespan <command> --help   the options of a command
  hugespan --version          the installed version
  --debug                     with any command: a stack trace with an error

exit codes: 0 ok, 1 runtime error, 2 usage error, 3 coverage below --min-coverage,
            4 --min-coverage cannot judge (no huge pages possible, or no anonymous memory)`;

function version(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function load(name: string, command: { load: () => Command }): Command {
  try {
    return command.load();
  } catch (e) {
    // Only the command's own module missing means a broken build; anything it requires is its own error.
    if ((e as { code?: string }).code === 'MODULE_NOT_FOUND' && (e as Error).message.includes(`'./${name}'`)) {
      throw new CliError(`the ${name} command is missing from this build of hugespan (no ${path.join(__dirname, `${name}.js`)})`);
    }
    throw e;
  }
}

/** The one hint a usage error gets: where the options of what was being run are listed. */
function hint(command: string | undefined): string {
  return `Try 'hugespan ${command ? `${command} ` : ''}--help'.`;
}

async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  const args = argv.filter((a) => a !== '--debug');
  const [name, ...rest] = args;
  const known = name !== undefined && Object.hasOwn(COMMANDS, name);
  try {
    if (name === 'help' || name === '--help' || name === '-h') {
      // `hugespan help report` is `hugespan report --help`.
      const topic = name === 'help' ? rest[0] : undefined;
      if (topic !== undefined) {
        if (!Object.hasOwn(COMMANDS, topic)) throw new UsageError(`no help on '${topic}': the commands are report, why, map, collapse, run, serve and lab`);
        return await load(topic, COMMANDS[topic]).run(['--help']);
      }
      process.stdout.write(`${HELP}\n`);
      return EXIT.ok;
    }
    if (name === '--version' || name === '-v') {
      process.stdout.write(`${version()}\n`);
      return EXIT.ok;
    }
    if (name === undefined) throw new UsageError('which command? report, why, map, collapse, run, serve or lab');
    if (name.startsWith('-')) throw new UsageError(`'${name}' is not a command; options go after one: hugespan report|why|map|collapse|run|serve|lab [options]`);
    if (!known) throw new UsageError(`unknown command '${name}'; the commands are report, why, map, collapse, run, serve and lab`);
    // --version means the same after any command (before the command's own options are judged).
    if (rest.includes('--version')) {
      process.stdout.write(`${version()}\n`);
      return EXIT.ok;
    }
    return await load(name, COMMANDS[name]).run(rest);
  } catch (e) {
    return reportFailure(e, { debug, hint: hint(known ? name : undefined) });
  }
}

// A reader that stops early (`hugespan report | head`) is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'EPIPE') throw e;
  process.exit(EXIT.ok);
});

void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Leave now when everything written has left: Node's exit, natural or process.exit, first
  // waits for V8's background threads to finish their job, typically optimizing a function
  // that will not run again (30-40 ms after a 1 000-VMA report, measured with strace). The
  // 'exit' listeners run first, as in Node's exit. Text still queued for a pipe, a command still
  // running, or node started with flags or NODE_OPTIONS/NODE_V8_COVERAGE (a profiler or coverage
  // run writes its data in Node's exit) keep Node's exit.
  const flushed = process.stdout.writableLength === 0 && process.stderr.writableLength === 0;
  const plain = process.execArgv.length === 0 && !process.env.NODE_OPTIONS && process.env.NODE_V8_COVERAGE === undefined;
  const loaded = require.cache[require.resolve('../native/binding')];
  if (flushed && plain && loaded && !keepsRunning()) {
    process.emit('exit', code);
    (loaded.exports as typeof import('../native/binding')).binding.exitNow(code);
  }
});

/** A command that left work running (a server, a timer) ends by itself, not here. */
function keepsRunning(): boolean {
  return (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo().some((r) => r !== 'TTYWrap' && r !== 'PipeWrap' && r !== 'FSReqCallback');
}
