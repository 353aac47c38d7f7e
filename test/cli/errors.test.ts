/**
 * Every way hugespan can be refused gives its own one-line message and exit code: usage
 * errors exit 2 with one hint line and nothing on stdout; help goes to stdout only when asked;
 * no such pid, a pid we may not read, a kernel thread, a zombie and a pid that exits while
 * watched exit 1, without a stack trace.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { cli, cliOnTty, CLI, hasScript, portableCli, startSleeper, statFields } from './cli';

/** The host's pid_max, read here rather than from the code under test. */
const PID_MAX = Number(fs.readFileSync('/proc/sys/kernel/pid_max', 'utf8'));
/** A valid pid no process has: pids are handed out upwards, so the top one is free but for a wrap. */
const NO_SUCH_PID = (() => {
  for (let pid = PID_MAX - 1; pid > 1; pid--) if (!fs.existsSync(`/proc/${pid}`)) return pid;
  throw new Error('every pid is in use');
})();
const PF_KTHREAD = 0x00200000;
const pidWants = (text: string) => `--pid wants a process id, decimal from 1 to ${PID_MAX - 1} (pid_max is ${PID_MAX}), not '${text}'`;

const stops: (() => Promise<void>)[] = [];
afterAll(() => Promise.all(stops.map((stop) => stop())));

function expectOneLine(stderr: string, message: string): void {
  expect(stderr).toBe(`hugespan: ${message}\n`);
}

describe('usage errors: exit 2, one line and a one-line hint', () => {
  it.each([
    [['report', '--bogus'], "Unknown option '--bogus'"],
    [['report', '--pid', 'abc'], pidWants('abc')],
    [['report', '--pid', '0'], pidWants('0')],
    // Number() would take these as 16, 10, 7 and 7; a pid is decimal digits only.
    [['report', '--pid', '0x10'], pidWants('0x10')],
    [['report', '--pid', '1e1'], pidWants('1e1')],
    [['report', '--pid', ' 7'], pidWants(' 7')],
    [['report', '--pid', '+7'], pidWants('+7')],
    [['report', '--pid', '7.0'], pidWants('7.0')],
    // Beyond pid_max no process can exist; this one used to reach the addon as its range error.
    [['report', '--pid', '99999999999'], pidWants('99999999999')],
    [['report', '--pid', String(PID_MAX)], pidWants(String(PID_MAX))],
    [['map', '--pid', '0x10'], pidWants('0x10')],
    // A repeat used to take the last silently.
    [['report', '--pid', '1', '--pid', '2'], "--pid given twice ('1', then '2'): give it once"],
    [['map', '--pid', '1', '--pid', '1'], "--pid given twice ('1', then '1'): give it once"],
    [['report', '--format', 'json', '--format', 'table'], "--format given twice ('json', then 'table'): give it once"],
    [['report', '--format', 'xml'], "--format wants table, json, openmetrics or prometheus, not 'xml'"],
    [['report', '--json', '--format', 'table'], '--json and --format table disagree; give one of them'],
    [['report', '--min-coverage', '1.5'], "--min-coverage wants a number from 0 to 1, not '1.5'"],
    [['report', '--min-coverage', '0.5', '--unmeasurable', 'maybe'], "--unmeasurable wants pass or fail, not 'maybe'"],
    [['report', '--unmeasurable', 'pass'], '--unmeasurable only means something with --min-coverage'],
    [['report', '--watch', '0'], "--watch wants a number ≥ 0.1, not '0'"],
    [['report', '--output', ''], "--output wants a file name (or '-' for standard output)"],
    [['report', 'extra'], "Unexpected argument 'extra'. This command does not take positional arguments"],
    [['map'], 'map needs --pid PID'],
    [['map', '--pid', '1', '--min-size', '4Q'], "--min-size wants a size such as 4M, 2MiB, 1G or 65536, not '4Q'"],
  ])('%j', (args, message) => {
    const r = cli(args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`hugespan: ${message}\nTry 'hugespan ${args[0]} --help'.\n`);
  });

  // These used to print the whole command list on stderr.
  it.each([
    [['frobnicate'], "unknown command 'frobnicate'; the commands are report, why, map, collapse, run, serve and lab"],
    [[], 'which command? report, why, map, collapse, run, serve or lab'],
    [['--json', 'report'], "'--json' is not a command; options go after one: hugespan report|why|map|collapse|run|serve|lab [options]"],
    [['help', 'frobnicate'], "no help on 'frobnicate': the commands are report, why, map, collapse, run, serve and lab"],
  ])('no command, or not one: %j', (args, message) => {
    expect(cli(args)).toEqual({ status: 2, stdout: '', stderr: `hugespan: ${message}\nTry 'hugespan --help'.\n` });
  });

  it('help goes to stdout, exit 0, only when asked: -h, --help, help, help COMMAND', () => {
    for (const args of [['-h'], ['--help'], ['help']]) {
      const r = cli(args);
      expect(r).toMatchObject({ status: 0, stderr: '' });
      expect(r.stdout).toMatch(/^usage: hugespan <command>[\s\S]*exit codes: 0 ok, 1 runtime error, 2 usage error, 3 coverage below --min-coverage,\s+4 --min-coverage cannot judge/);
    }
    expect(cli(['help', 'report'])).toMatchObject({ status: 0, stderr: '', stdout: expect.stringMatching(/^usage: hugespan report /) });
  });

  it('--help and --version succeed on stdout', () => {
    expect(cli(['--help'])).toMatchObject({ status: 0, stderr: '', stdout: expect.stringContaining('usage: hugespan <command>') });
    expect(cli(['report', '--help'])).toMatchObject({ status: 0, stdout: expect.stringContaining('--min-coverage R') });
    expect(cli(['map', '--help'])).toMatchObject({ status: 0, stdout: expect.stringContaining('--min-size BYTES') });
    expect(cli(['--version']).stdout).toBe(`${JSON.parse(fs.readFileSync(`${__dirname}/../../package.json`, 'utf8')).version}\n`);
  });
});

describe('processes that cannot be read: exit 1, one line', () => {
  it('no such pid', () => {
    for (const command of ['report', 'map']) {
      const r = cli([command, '--pid', String(NO_SUCH_PID)]);
      expect(r.status).toBe(1);
      expectOneLine(r.stderr, `no process with pid ${NO_SUCH_PID}`);
    }
  });

  it('--debug adds the stack and the system error behind the message', () => {
    const r = cli(['report', '--pid', String(NO_SUCH_PID), '--debug']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^hugespan: no process with pid \d+\nProcessError: no process[\s\S]*\bat \S[\s\S]*code: 'ENOENT'/);
  });

  // As root every process is readable, so ask as nobody; as a user, pid 1 is someone else's.
  // Nobody runs a copy of the built CLI from a directory anyone may enter (portableCli), so
  // this does not depend on where the clone lives (/root and mktemp -d dirs are 0700).
  const asRoot = process.getuid?.() === 0;
  const nobody = asRoot ? portableCli({ uid: 65534, gid: 65534 }) : undefined;
  afterAll(() => nobody?.dispose());
  const cannot = !asRoot && fs.statSync('/proc/1').uid === process.getuid?.() ? 'pid 1 is ours' : nobody?.skip;
  if (cannot) process.stderr.write(`hugespan: skipping "a process we may not read": ${cannot}\n`);
  (cannot ? it.skip : it)(`a process we may not read${cannot ? ` [skipped: ${cannot}]` : ''}`, () => {
    const sleeper = startSleeper();
    stops.push(sleeper.stop);
    const pid = asRoot ? sleeper.pid : 1;
    const run = nobody ? nobody.run : (args: string[]) => cli(args);
    for (const command of ['report', 'map']) {
      const r = run([command, '--pid', String(pid)]);
      expect(r.status).toBe(1);
      expectOneLine(r.stderr, `not permitted to read pid ${pid}'s memory map (needs ptrace read access; try as its user or root)`);
    }
    // In the system report such processes are a footnote, not a failure.
    const all = run(['report', '--all', '--json']);
    expect(all.status).toBe(0);
    expect(JSON.parse(all.stdout).unreadable).toBeGreaterThanOrEqual(1);
  });

  const kthread = Number(statFields(2)?.[6]) & PF_KTHREAD;
  (kthread ? it : it.skip)(`a kernel thread (pid 2)${kthread ? '' : ' [skipped: pid 2 is not a kernel thread here]'}`, () => {
    const comm = fs.readFileSync('/proc/2/comm', 'utf8').trim();
    const r = cli(['report', '--pid', '2']);
    expect(r.status).toBe(1);
    expectOneLine(r.stderr, `pid 2 is a kernel thread (${comm}): it has no user memory`);
  });

  it('a zombie', async () => {
    // `sleep 0` exits at once; its parent has become `sleep 30`, which never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0 & exec sleep 30'], { stdio: 'ignore' });
    stops.push(
      () =>
        new Promise((resolve) => {
          parent.once('exit', () => resolve());
          parent.kill('SIGKILL');
        }),
    );
    let zombie: number | undefined;
    for (let tries = 0; zombie === undefined && tries < 100; tries++) {
      await new Promise((r) => setTimeout(r, 20));
      zombie = fs
        .readdirSync('/proc')
        .filter((d) => /^\d+$/.test(d))
        .map(Number)
        .find((pid) => {
          const f = statFields(pid);
          return f?.[1] === String(parent.pid) && f[0] === 'Z';
        });
    }
    expect(zombie).toBeDefined();
    const r = cli(['report', '--pid', String(zombie)]);
    expect(r.status).toBe(1);
    expectOneLine(r.stderr, `pid ${zombie} is a zombie (sleep): it has exited and has no memory left; its parent has not reaped it yet`);
  });
});

describe('--watch', () => {
  /** Resolves with the CLI's result once it exits; calls `onFrame` after its first output. */
  function watch(pid: number, onFrame: (cli: ReturnType<typeof spawn>) => void): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [CLI, 'report', '--pid', String(pid), '--watch', '0.2'], { env: { ...process.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.once('data', () => onFrame(child));
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
  }

  it('a pid that exits while watched: "exited", exit 1', async () => {
    const sleeper = startSleeper();
    stops.push(sleeper.stop);
    const r = await watch(sleeper.pid, () => void sleeper.stop());
    expect(r.status).toBe(1);
    expectOneLine(r.stderr, `pid ${sleeper.pid} exited while being read`);
    expect(r.stdout).toContain(`pid ${sleeper.pid} (sleep)`);
  });

  it('Ctrl-C (SIGINT) ends the loop cleanly: exit 0, nothing on stderr', async () => {
    const sleeper = startSleeper();
    stops.push(sleeper.stop);
    const r = await watch(sleeper.pid, (child) => child.kill('SIGINT'));
    expect(r).toMatchObject({ status: 0, stderr: '' });
  });
});

describe('colour', () => {
  const pid = String(process.pid);
  const ESC = /\x1b/;

  it('piped output has no escape bytes; FORCE_COLOR forces colour', () => {
    expect(cli(['report', '--pid', pid]).stdout).not.toMatch(ESC);
    expect(cli(['report', '--pid', pid], { env: { FORCE_COLOR: '1' } }).stdout).toMatch(/\x1b\[1mpid/);
  });

  // On a terminal (script(1) makes one) colour is on by default: only there can NO_COLOR turn it off.
  (hasScript ? it : it.skip)(`on a terminal: coloured, and NO_COLOR turns it off${hasScript ? '' : ' [skipped: no script(1) for a pty]'}`, () => {
    expect(cliOnTty(['report', '--pid', pid])).toMatch(/\x1b\[1mpid/);
    expect(cliOnTty(['report', '--pid', pid], { NO_COLOR: '1' })).not.toMatch(ESC);
    const map = cliOnTty(['map', '--pid', pid, '--min-size', '4k'], { NO_COLOR: '1' });
    expect(map).not.toMatch(ESC);
    expect(map).toContain('█ on a huge page');
  });
});
