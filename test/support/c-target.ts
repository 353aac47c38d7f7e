/**
 * The C target of test/account/reasons-target.c, built into /tmp once per test file and driven
 * a command a line: it makes the memory cases the reasons name (fork-shared pages, userfaultfd,
 * a private /dev/zero map, mlock, prctl …) on request. Invariant: every target started here is
 * killed by `stopAll` (the caller's afterAll), and its forked children exit with it.
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ROOT } from './child';

const SOURCE = path.join(ROOT, 'test', 'account', 'reasons-target.c');

/** madvise(2) advice numbers the tests send. */
export const ADVICE = { dontneed: 4, free: 8, hugepage: 14, nohugepage: 15, pageout: 21 } as const;

let built: { bin?: string; reason?: string } | undefined;

/** The target's binary, or why it cannot be built here (no gcc, no userfaultfd header …). */
export function buildTarget(): { bin?: string; reason?: string } {
  if (built) return built;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-reasons-'));
  const bin = path.join(dir, 'target');
  const r = spawnSync('gcc', ['-O1', '-Wall', '-o', bin, SOURCE], { encoding: 'utf8' });
  if (r.error) built = { reason: `no C compiler to build the target (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})` };
  else if (r.status !== 0) built = { reason: `the C target does not build here: ${r.stderr.trim().split('\n').slice(-3).join(' ')}` };
  else built = { bin };
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return built;
}

export interface Answer {
  rc: number;
  errno: number;
  value: number;
}

const running = new Set<ChildProcess>();

export class Target {
  private queue: ((a: Answer) => void)[] = [];
  private constructor(private readonly child: ChildProcess) {}

  get pid(): number {
    return this.child.pid!;
  }

  static start(bin: string): Target {
    const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    running.add(child);
    const t = new Target(child);
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        t.queue.shift()?.(JSON.parse(line) as Answer);
      }
    });
    child.once('exit', () => {
      running.delete(child);
      for (const q of t.queue.splice(0)) q({ rc: -1, errno: -1, value: 0 });
    });
    return t;
  }

  /** One command; resolves with the target's answer (rc -1, errno -1 if it died). */
  cmd(line: string): Promise<Answer> {
    return new Promise((resolve) => {
      this.queue.push(resolve);
      this.child.stdin!.write(`${line}\n`);
    });
  }

  /** A command that must succeed: its value. */
  async ok(line: string): Promise<number> {
    const a = await this.cmd(line);
    if (a.rc !== 0) throw new Error(`target: "${line}" failed: errno ${a.errno}`);
    return a.value;
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

/** Kill every target still running (afterAll). */
export function stopAll(): void {
  for (const c of running) c.kill('SIGKILL');
}
