/**
 * `hugespan serve` as Prometheus uses it: a real server on a loopback port, scraped with a real
 * HTTP client in both exposition formats, its OpenMetrics read by the strict parser; the
 * selected process's series add up like the accounting does, and nothing else gets a pid label.
 */
import { spawn, ChildProcess } from 'node:child_process';
import { CLI, startTarget, Target } from './cli';
import { parseOpenMetrics } from './openmetrics';
import { REASONS } from '../../src/account/reasons';

let target: Target;
let server: ChildProcess;
let base: string;

beforeAll(async () => {
  target = await startTarget();
  server = spawn(process.execPath, [CLI, 'serve', '--listen', '127.0.0.1:0', '--pid', String(target.pid)], { stdio: ['ignore', 'pipe', 'inherit'] });
  base = await new Promise<string>((resolve, reject) => {
    let out = '';
    server.once('exit', (code) => reject(new Error(`serve exited (${code}) before listening`)));
    server.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /serving (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(out);
      if (m) resolve(m[1]);
    });
  });
}, 30000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
  await target?.stop();
});

describe('serve', () => {
  it('OpenMetrics when asked: strict-parser clean, counters _total, the process adding up', async () => {
    const res = await fetch(`${base}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/openmetrics-text; version=1\.0\.0/);
    const { types, samples } = parseOpenMetrics(await res.text());
    expect(types.hugespan_thp_events).toBe('counter');
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
  });

  it('the text format 0.0.4 otherwise; 404 elsewhere; 405 for POST', async () => {
    const res = await fetch(`${base}/metrics`);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const body = await res.text();
    expect(body).toMatch(/^hugespan_anonymous_bytes \d+$/m);
    expect(body).not.toContain('# EOF');
    expect((await fetch(`${base}/`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('reads afresh on every scrape', async () => {
    const scrape = async () => parseOpenMetrics(await (await fetch(`${base}/metrics`, { headers: { accept: 'application/openmetrics-text' } })).text());
    const a = (await scrape()).samples.find((s) => s.name === 'hugespan_scrape_duration_seconds')!.value;
    const b = (await scrape()).samples.find((s) => s.name === 'hugespan_scrape_duration_seconds')!.value;
    expect(a).toBeGreaterThan(0);
    expect(b).toBeGreaterThan(0);
    expect(a).not.toBe(b);
  });

  it('a bad --listen is a usage error', () => {
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    const r = spawnSync(process.execPath, [CLI, 'serve', '--listen', 'nowhere'], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--listen wants HOST:PORT');
  });
});
