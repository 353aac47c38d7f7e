/**
 * `hugespan serve` as Prometheus uses it: a real server on a loopback port, scraped with a real
 * HTTP client in both exposition formats, each read by a strict parser and the text format by
 * promtool (where installed); the selected process's series add up like the accounting does,
 * nothing else gets a pid label, groups have none; negotiation, gzip, the landing page, shared
 * readings, processes that exit or are zombies, and a closed stdout.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as net from 'node:net';
import * as zlib from 'node:zlib';
import { CLI, startSleeper, startTarget, Target } from './cli';
import { parseOpenMetrics, parseText, Sample } from './openmetrics';
import { REASONS } from '../../src/account/reasons';
import { FAMILIES, sampleName } from '../../src/cli/metrics';
import { itUnless } from '../support/thp';
import { promtool, promtoolReason } from '../support/promtool';
import { get, OPENMETRICS, PROMETHEUS_ACCEPT, Served, startServe } from '../support/serve';

let target: Target;
let served: Served;

beforeAll(async () => {
  target = await startTarget();
  served = await startServe(['--pid', String(target.pid), '--max-age', '1']);
}, 30000);

afterAll(async () => {
  await served?.stop();
  await target?.stop();
});

const scrapeOm = async (base: string): Promise<Sample[]> => parseOpenMetrics((await get(`${base}/metrics`, { accept: OPENMETRICS })).body.toString()).samples;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) => samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('serve: the two formats', () => {
  it('OpenMetrics when asked: strict-parser clean, counters _total, units declared, the process adding up', async () => {
    const res = await get(`${served.base}/metrics`, { accept: OPENMETRICS });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    const { types, units, samples } = parseOpenMetrics(res.body.toString());
    expect(types.hugespan_thp_events).toBe('counter');
    expect(units.hugespan_process_anonymous_bytes).toBe('bytes');
    expect(samples.some((s) => s.name === 'hugespan_thp_events_total' && s.labels.event === 'fault_alloc')).toBe(true);
    const mine = (name: string) => samples.filter((s) => s.name === name && s.labels.pid === String(target.pid));
    const anon = mine('hugespan_process_anonymous_bytes')[0].value;
    const pmd = mine('hugespan_process_pmd_mapped_bytes')[0].value;
    const pte = mine('hugespan_process_pte_mapped_thp_bytes')[0]?.value ?? 0;
    const small = mine('hugespan_process_small_bytes');
    expect(small.map((s) => s.labels.reason).sort()).toEqual(REASONS.map((r) => r.code).sort()); // a bounded, fixed set
    expect(pmd + pte + small.reduce((a, s) => a + s.value, 0)).toBe(anon);
    // Only the selected process carries a pid label.
    expect(new Set(samples.filter((s) => s.labels.pid).map((s) => s.labels.pid))).toEqual(new Set([String(target.pid)]));
    for (const s of samples.filter((x) => x.name.endsWith('_ratio'))) expect(s.value).toBeGreaterThanOrEqual(0), expect(s.value).toBeLessThanOrEqual(1);
    // The exporter's own: build info, prom-client's process and Node.js collectors, khugepaged progress.
    expect(types.hugespan_build).toBe('info');
    expect(value(samples, 'hugespan_build_info')).toBe(1);
    expect(samples.find((s) => s.name === 'hugespan_build_info')!.labels.nodejs).toBe(process.version);
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_total_bytes']) expect(samples.some((s) => s.name === name)).toBe(true);
  });

  it('the text format 0.0.4 otherwise: counters _total there too, the same series as OpenMetrics', async () => {
    const res = await get(`${served.base}/metrics`);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    const { types, samples } = parseText(res.body.toString());
    expect(types.hugespan_thp_events_total).toBe('counter');
    expect(types.hugespan_scrape_errors_total).toBe('counter');
    const om = await scrapeOm(served.base);
    const names = (list: Sample[]) => new Set(list.filter((s) => s.name.startsWith('hugespan_')).map((s) => s.name));
    expect(names(samples)).toEqual(names(om));
    // Every counter of the vocabulary is written _total in both.
    for (const f of FAMILIES.filter((x) => x.type === 'counter')) expect(names(samples).has(f.name)).toBe(false);
  });

  itUnless(promtoolReason, 'promtool check metrics: the text format is clean, both as served and gzipped', async () => {
    const res = await get(`${served.base}/metrics`, { 'accept-encoding': 'gzip' });
    expect(res.headers['content-encoding']).toBe('gzip');
    const text = zlib.gunzipSync(res.body).toString();
    const r = promtool(['check', 'metrics'], text);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  itUnless(promtoolReason, 'promtool check metrics finds the old bug: a counter family without _total fails it', () => {
    // The check above can fail: promtool refuses what serve wrote before (issue 17 item 2).
    const r = promtool(['check', 'metrics'], '# HELP hugespan_thp_events x\n# TYPE hugespan_thp_events counter\nhugespan_thp_events{event="a"} 1\n');
    expect(r.status).not.toBe(0);
    expect(r.output).toContain('_total');
  });
});

describe('serve: negotiation', () => {
  const typeFor = async (accept: string | undefined) => (await get(`${served.base}/metrics`, accept === undefined ? {} : { accept })).headers['content-type'];
  it.each([
    [PROMETHEUS_ACCEPT, 'openmetrics'],
    ['application/openmetrics-text;q=0, text/plain', 'text'],
    ['application/openmetrics-text; version=1.0.0; q=0', 'text'],
    ['application/openmetrics-text;q=0.2, text/plain;q=0.5', 'text'],
    ['text/plain;q=0.3, application/openmetrics-text;q=0.5', 'openmetrics'],
    ['*/*', 'text'],
    ['text/html', 'text'],
    [undefined, 'text'],
  ])('Accept: %s -> %s', async (accept, want) => {
    expect(await typeFor(accept)).toMatch(want === 'openmetrics' ? /^application\/openmetrics-text/ : /^text\/plain; version=0\.0\.4/);
  });

  it('gzip when accepted (not with q=0): the same document', async () => {
    const zipped = await get(`${served.base}/metrics`, { 'accept-encoding': 'deflate, gzip;q=0.8' });
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(zipped.headers.vary).toMatch(/Accept-Encoding/);
    expect(zlib.gunzipSync(zipped.body).toString()).toMatch(/^hugespan_anonymous_bytes \d+$/m);
    const plain = await get(`${served.base}/metrics`, { 'accept-encoding': 'gzip;q=0' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString()).toMatch(/^hugespan_anonymous_bytes \d+$/m);
  });

  it('a landing page at /, 404 elsewhere, 405 for POST', async () => {
    const home = await get(`${served.base}/`);
    expect(home.status).toBe(200);
    expect(home.headers['content-type']).toMatch(/^text\/html/);
    expect(home.body.toString()).toContain('<a href="/metrics">');
    expect((await get(`${served.base}/nothing`)).status).toBe(404);
    expect((await fetch(`${served.base}/metrics`, { method: 'POST' })).status).toBe(405);
  });
});

describe('serve: shared readings', () => {
  it('concurrent scrapes share one reading; after --max-age a new one', async () => {
    await sleep(1100);
    const four = await Promise.all([0, 1, 2, 3].map(() => scrapeOm(served.base)));
    const durations = four.map((s) => value(s, 'hugespan_scrape_duration_seconds'));
    expect(durations[0]).toBeGreaterThan(0);
    expect(new Set(durations).size).toBe(1);
    await sleep(1100);
    expect(value(await scrapeOm(served.base), 'hugespan_scrape_duration_seconds')).not.toBe(durations[0]);
  });

  it('--max-age 0: every scrape reads afresh', async () => {
    const s = await startServe(['--max-age', '0']);
    try {
      const a = value(await scrapeOm(s.base), 'hugespan_scrape_duration_seconds');
      const b = value(await scrapeOm(s.base), 'hugespan_scrape_duration_seconds');
      expect(a).toBeGreaterThan(0);
      expect(a).not.toBe(b);
    } finally {
      await s.stop();
    }
  });
});

describe('serve: processes that go away', () => {
  it('a selected process that exits, and a zombie, count as exited, not as scrape errors', async () => {
    // A zombie: sh forks a short sleep, then becomes a long one that never reaps it.
    const parent = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const zombie = Number(await new Promise<string>((r) => parent.stdout!.once('data', (d: Buffer) => r(d.toString().trim()))));
    const sleeper = startSleeper();
    await sleep(300);
    expect(spawnSync('ps', ['-o', 'stat=', '-p', String(zombie)], { encoding: 'utf8' }).stdout.trim()).toMatch(/^Z/);
    const s = await startServe(['--pid', `${zombie},${sleeper.pid}`, '--max-age', '0']);
    try {
      const first = await scrapeOm(s.base);
      expect(value(first, 'hugespan_scrape_exited_total')).toBe(1); // the zombie
      expect(value(first, 'hugespan_scrape_errors_total')).toBe(0);
      expect(value(first, 'hugespan_process_anonymous_bytes', { pid: String(sleeper.pid) })).toBeGreaterThan(0);
      await sleeper.stop();
      const second = await scrapeOm(s.base);
      expect(value(second, 'hugespan_scrape_exited_total')).toBe(3); // the zombie again, and the sleeper
      expect(value(second, 'hugespan_scrape_errors_total')).toBe(0);
      expect(value(second, 'hugespan_process_anonymous_bytes', { pid: String(sleeper.pid) })).toBeUndefined();
    } finally {
      await s.stop();
      parent.kill('SIGKILL');
    }
  });

  it('a --pid that does not exist at start: a warning on stderr, and it serves', async () => {
    // A pid just freed: a process that ran and was reaped.
    const gone = spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim();
    const s = await startServe(['--pid', gone]);
    try {
      await sleep(100);
      expect(s.stderr()).toContain(`hugespan: warning: no process with pid ${gone} now`);
      expect((await get(`${s.base}/metrics`)).status).toBe(200);
    } finally {
      await s.stop();
    }
  });
});

describe('serve: grouped, without pid', () => {
  it('--group-by comm|exe|cgroup of selected processes: one series per key, members summed, no pid', async () => {
    const a = startSleeper();
    const b = startSleeper();
    try {
      const one = await startServe(['--pid', `${a.pid},${b.pid}`, '--max-age', '0']);
      const each = await scrapeOm(one.base).finally(() => one.stop());
      const sum = (name: string) => [a, b].reduce((n, p) => n + value(each, name, { pid: String(p.pid) })!, 0);
      for (const [by, key] of [
        ['comm', 'sleep'],
        ['exe', require('node:fs').realpathSync(spawnSync('sh', ['-c', 'command -v sleep'], { encoding: 'utf8' }).stdout.trim())],
      ] as const) {
        const s = await startServe(['--pid', `${a.pid},${b.pid}`, '--group-by', by, '--max-age', '0']);
        try {
          const got = await scrapeOm(s.base);
          expect(got.filter((x) => x.labels.pid !== undefined)).toEqual([]);
          expect(value(got, 'hugespan_processes', { [by]: key })).toBe(2);
          expect(value(got, 'hugespan_process_anonymous_bytes', { [by]: key })).toBe(sum('hugespan_process_anonymous_bytes'));
          expect(value(got, 'hugespan_process_pmd_mapped_bytes', { [by]: key })).toBe(sum('hugespan_process_pmd_mapped_bytes'));
          const small = got.filter((x) => x.name === 'hugespan_process_small_bytes' && x.labels[by] === key);
          expect(small.length).toBe(REASONS.length);
        } finally {
          await s.stop();
        }
      }
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  it('--group-by cgroup alone: every readable process by cgroup, with its memory.stat figures', async () => {
    const s = await startServe(['--group-by', 'cgroup', '--max-age', '0']);
    try {
      const got = await scrapeOm(s.base);
      expect(got.filter((x) => x.labels.pid !== undefined)).toEqual([]);
      expect(value(got, 'hugespan_unreadable_processes')).toBeGreaterThanOrEqual(0);
      const groups = got.filter((x) => x.name === 'hugespan_processes');
      expect(groups.reduce((n, x) => n + x.value, 0)).toBeGreaterThan(1);
      // Our own cgroup is one of them, with its memory.stat's anon.
      const own = require('../../src/cli/readings').cgroupOf(process.pid) as string;
      expect(groups.some((x) => x.labels.cgroup === own)).toBe(true);
      expect(value(got, 'hugespan_cgroup_anonymous_bytes', { cgroup: own })).toBeGreaterThan(0);
    } finally {
      await s.stop();
    }
  });
});

describe('serve: the command line', () => {
  it('a bad --listen or --group-by is a usage error', () => {
    const r = spawnSync(process.execPath, [CLI, 'serve', '--listen', 'nowhere'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--listen wants [HOST]:PORT');
    const g = spawnSync(process.execPath, [CLI, 'serve', '--group-by', 'pid'], { encoding: 'utf8' });
    expect(g.status).toBe(2);
    expect(g.stderr).toContain("--group-by wants comm, exe or cgroup, not 'pid'");
  });

  it('--listen :PORT listens on every address (reached here on loopback)', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--listen', ':0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = await new Promise<string>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
        child.stdout!.on('data', (d: Buffer) => {
          const m = /serving http:\/\/(?:\[::\]|0\.0\.0\.0):(\d+)\/metrics/.exec(d.toString());
          if (m) resolve(m[1]);
        });
      });
      expect((await get(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
    } finally {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('a closed stdout (serve | true) does not stop the server', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    const child = spawn('sh', ['-c', `exec "$0" "$1" serve --listen 127.0.0.1:${port} | true`, process.execPath, CLI], { stdio: 'ignore', detached: true });
    try {
      let status = 0;
      for (let i = 0; i < 50 && !status; i++) {
        await sleep(100);
        status = await get(`http://127.0.0.1:${port}/metrics`).then((r) => r.status, () => 0);
      }
      expect(status).toBe(200);
      await sleep(300);
      expect((await get(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
    }
  });
});

it('every hugespan family the server writes is in the vocabulary, as its type says', async () => {
  const names = new Set(FAMILIES.map(sampleName));
  for (const s of await scrapeOm(served.base)) if (s.name.startsWith('hugespan_')) expect(names).toContain(s.name);
});
