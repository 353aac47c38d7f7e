/**
 * `npm run test:e2e`: a real Prometheus (Debian's `prometheus`, installed by
 * scripts/e2e/install-prometheus.sh when missing and root) scrapes two real `hugespan serve`s
 * on loopback — one with a selected child, one grouping every process by cgroup — with its own
 * config and storage in a temp dir and the shipped rules loaded, while the child maps and touches
 * huge-page memory. Then its HTTP API must show: both targets up with no scrape error, every
 * family of the vocabulary stored (save those this host cannot have, each said), the child's
 * values equal to `report --json` and smaps_rollup, every rule evaluated by Prometheus without
 * error, and every recording rule, dashboard expression and selector in an alert returning data.
 * Everything started is stopped; all traffic stays on 127.0.0.1.
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLI } from '../cli/cli';
import { FAMILIES, sampleName } from '../../src/cli/metrics';
import { itUnless } from '../support/thp';
import { absentBecause } from '../support/families';
import { RULES_FILE, expressions, namesIn } from '../support/prometheus-files';
import { Served, startServe } from '../support/serve';

const ROOT = path.join(__dirname, '..', '..');
const MiB = 2 ** 20;

/** Installs Prometheus when missing (as root); the reason to skip otherwise. */
function prometheusReason(): string | undefined {
  const has = () => spawnSync('prometheus', ['--version']).status === 0;
  if (has()) return undefined;
  if (process.getuid?.() !== 0) return 'prometheus is not installed and installing it needs root (apt-get install prometheus)';
  const r = spawnSync('bash', [path.join(ROOT, 'scripts', 'e2e', 'install-prometheus.sh')], { stdio: 'inherit', timeout: 600000 });
  return r.status === 0 && has() ? undefined : `installing prometheus failed (exit ${r.status})`;
}

const reason = prometheusReason();

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// The child: waits for a line, then maps 64 MiB advised hugepage and touches it, says so, and
// holds it until stdin closes.
const CHILD = `
  const { Mapping } = require(${JSON.stringify(ROOT)});
  const kept = [];
  console.log('ready');
  process.stdin.once('data', () => {
    const m = new Mapping(${64 * MiB}, { align: 'hugepage', commit: true });
    m.advise('hugepage');
    m.touch();
    kept.push(m);
    console.log('touched');
  });
  process.stdin.on('end', () => process.exit(0)).resume();
`;

interface Started {
  dir: string;
  child: ChildProcess;
  serves: Served[];
  prometheus?: ChildProcess;
  api: string;
}

let s: Started | undefined;

async function query(expr: string): Promise<{ status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } }> {
  const res = await fetch(`${s!.api}/api/v1/query?${new URLSearchParams({ query: expr })}`);
  return (await res.json()) as never;
}

const line = (c: ChildProcess, want: string) =>
  new Promise<void>((resolve, reject) => {
    let out = '';
    c.once('exit', (code) => reject(new Error(`child exited (${code})`)));
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes(want)) resolve();
    });
  });

async function stopAll(): Promise<void> {
  if (!s) return;
  const p = s.prometheus;
  if (p && p.exitCode === null && p.signalCode === null) {
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await Promise.race([exited, sleep(10000).then(() => p.kill('SIGKILL'))]);
  }
  for (const x of s.serves) await x.stop();
  if (s.child.exitCode === null) {
    const exited = new Promise((r) => s!.child.once('exit', r));
    s.child.stdin!.end();
    s.child.kill('SIGKILL');
    await exited;
  }
  fs.rmSync(s.dir, { recursive: true, force: true });
}

afterAll(stopAll, 30000);

describe('a real Prometheus scraping hugespan serve', () => {
  itUnless(reason, 'stores every series, with the values report --json and smaps_rollup give, and every rule and panel evaluates with data', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-e2e-'));
    const child = spawn(process.execPath, ['-e', CHILD], { stdio: ['pipe', 'pipe', 'inherit'] });
    s = { dir, child, serves: [], api: '' };
    await line(child, 'ready');
    const pid = child.pid!;
    s.serves.push(await startServe(['--pid', String(pid)]));
    s.serves.push(await startServe(['--group-by', 'cgroup']));
    const port = await freePort();
    s.api = `http://127.0.0.1:${port}`;
    const targets = s.serves.map((x) => x.base.replace('http://', ''));
    fs.writeFileSync(
      path.join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${JSON.stringify(RULES_FILE)}`,
        'scrape_configs:',
        '  - job_name: hugespan',
        '    static_configs:',
        `      - targets: [${JSON.stringify(targets[0])}]`,
        '  - job_name: hugespan-cgroups',
        '    static_configs:',
        `      - targets: [${JSON.stringify(targets[1])}]`,
        '',
      ].join('\n'),
    );
    const log = fs.openSync(path.join(dir, 'prometheus.log'), 'w');
    s.prometheus = spawn(
      'prometheus',
      [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: ['ignore', log, log] },
    );
    fs.closeSync(log);
    const logText = () => fs.readFileSync(path.join(dir, 'prometheus.log'), 'utf8');

    // Up and scraping both targets.
    let ups = 0;
    for (let i = 0; i < 60 && ups < 2; i++) {
      await sleep(500);
      ups = await query('sum(up)').then((r) => Number(r.data?.result[0]?.value[1] ?? 0), () => 0);
    }
    expect({ ups, log: ups < 2 ? logText() : '' }).toEqual({ ups: 2, log: '' });

    // The child takes its huge pages while Prometheus scrapes.
    child.stdin!.write('go\n');
    await line(child, 'touched');
    await sleep(8000);

    // Both targets healthy: the OpenMetrics Prometheus asked for parsed without error.
    const t = (await (await fetch(`${s.api}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string; lastError: string; scrapeUrl: string }[] } };
    for (const x of t.data.activeTargets) expect({ url: x.scrapeUrl, health: x.health, error: x.lastError }).toEqual({ url: x.scrapeUrl, health: 'up', error: '' });

    // Every family stored, save those this host cannot have.
    for (const f of FAMILIES) {
      const name = sampleName(f);
      const r = await query(`count({__name__="${name}"})`);
      const stored = r.data?.result.length ? Number(r.data.result[0].value[1]) : 0;
      const why = absentBecause(name);
      if (why && !stored) {
        process.stderr.write(`hugespan e2e: ${name} not stored: ${why}\n`);
        continue;
      }
      expect({ name, stored: stored > 0 }).toEqual({ name, stored: true });
    }
    // And no counter without _total.
    for (const f of FAMILIES.filter((x) => x.type === 'counter')) expect((await query(`count({__name__="${f.name}"})`)).data?.result).toEqual([]);

    // The child's values against report --json and smaps_rollup: equal, in a scrape after both reads
    // (the child holds still; retried a few times should the runtime have moved a page).
    let last: unknown;
    for (let attempt = 0; attempt < 5; attempt++) {
      const rollup = Object.fromEntries([...fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').matchAll(/^(\w+):\s+(\d+) kB$/gm)].map((m) => [m[1], Number(m[2]) * 1024]));
      const report = JSON.parse(spawnSync(process.execPath, [CLI, 'report', '--pid', String(pid), '--json'], { encoding: 'utf8' }).stdout) as { totals: { coverage: number; account: { anonymous: number; pmdMapped: number } } };
      await sleep(2500);
      const v = async (name: string) => Number((await query(`${name}{job="hugespan",pid="${pid}"}`)).data!.result[0].value[1]);
      const got = { anonymous: await v('hugespan_process_anonymous_bytes'), pmd: await v('hugespan_process_pmd_mapped_bytes'), coverage: await v('hugespan_process_coverage_ratio') };
      const want = { anonymous: report.totals.account.anonymous, pmd: report.totals.account.pmdMapped, coverage: report.totals.coverage };
      const smaps = { anonymous: rollup.Anonymous, pmd: rollup.AnonHugePages };
      last = { got, want, smaps };
      if (JSON.stringify(got) === JSON.stringify(want) && got.anonymous === smaps.anonymous && got.pmd === smaps.pmd) break;
    }
    const { got, want, smaps } = last as { got: { anonymous: number; pmd: number; coverage: number }; want: typeof got; smaps: { anonymous: number; pmd: number } };
    expect(got).toEqual(want);
    expect({ anonymous: got.anonymous, pmd: got.pmd }).toEqual(smaps);
    expect(got.pmd).toBeGreaterThanOrEqual(32 * MiB); // the child's huge pages are there (THP madvise or always)

    // Prometheus evaluated every rule without error.
    const rules = (await (await fetch(`${s.api}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
    const all = rules.data.groups.flatMap((g) => g.rules);
    expect(all).toHaveLength(11);
    for (const r of all) expect({ rule: r.name, health: r.health, error: r.lastError ?? '' }).toEqual({ rule: r.name, health: 'ok', error: '' });

    // Every recording rule and panel returns data; every alert evaluates, and each series it reads has data.
    for (const e of expressions()) {
      const expr = e.expr.replace(/\$instance/g, '.*').replace(/\$__rate_interval/g, '1m');
      const r = await query(expr);
      expect({ where: e.where, status: r.status, error: r.error ?? '' }).toEqual({ where: e.where, status: 'success', error: '' });
      if (e.kind !== 'alert') {
        expect({ where: e.where, data: (r.data?.result.length ?? 0) > 0 }).toEqual({ where: e.where, data: true });
        continue;
      }
      for (const n of namesIn(expr)) {
        const d = await query(n);
        expect({ where: e.where, reads: n, data: (d.data?.result.length ?? 0) > 0 }).toEqual({ where: e.where, reads: n, data: true });
      }
    }
    expect(logText()).not.toMatch(/level=error/);
  }, 180000);
});
