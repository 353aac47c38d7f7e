/**
 * The fast path of `report --pid --json` (issue 12), the streaming writer, writes exactly what
 * JSON.stringify writes for the whole report, compact and indented, on the reports of real
 * processes, with none, and with more VMAs than a chunk (paths with non-ASCII text in them).
 */
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { processReport, streamProcessReport } from '../../src/account/report';
import type { ProcessReport, VmaJson } from '../../src/account/schema';
import { processJsonWriter } from '../../src/cli/report';
import type { Writer } from '../../src/cli/output';
import { Mapping } from '../../src/native/mapping';
import { CLI } from './cli';

/** Reports of this process and of a few others we may read (init, whatever runs). */
function reports(): ProcessReport[] {
  const out = [processReport(process.pid, { exact: true })];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const r = processReport(Number(name), { exact: true });
      if (r.vmas.length) out.push(r);
    } catch {
      // a kernel thread, gone, or not ours
    }
    if (out.length >= 6) break;
  }
  return out;
}

const base: VmaJson = {
  start: '0x7f0000000000',
  end: '0x7f0000400000',
  size: 4194304,
  perms: 'rw-p',
  path: '',
  rss: 8192,
  anonymous: 8192,
  anonHugePages: 0,
  coverage: 0,
  thpEligible: null,
  vmFlags: ['rd', 'wr', 'mr', 'mw', 'me', 'ac'],
  eligibleNotHuge: 0,
  account: { anonymous: 8192, pmdMapped: 0, pteMappedThp: null, small: 8192, reasons: { 'madvise-mode-not-advised': 8192 } },
  frames: [{ start: '0x7f0000000000', present: 8192, reason: 'madvise-mode-not-advised' }],
};

/** Collects what a writer is given, as text. */
function sink(): Writer & { text(): string; ended: boolean } {
  const parts: string[] = [];
  const w = {
    ended: false,
    write: (t: string | Uint8Array) => void parts.push(typeof t === 'string' ? t : Buffer.from(t).toString('utf8')),
    end: () => void (w.ended = true),
    text: () => parts.join(''),
  };
  return w;
}

function streamed(r: ProcessReport, compact: boolean): string {
  const w = sink();
  const json = processJsonWriter(compact, w);
  const { vmas, totals, owners, ...head } = r;
  json.head(head);
  for (const v of vmas) json.vma(v);
  json.end(totals, owners);
  expect(w.ended).toBe(true);
  return w.text();
}

describe('the streaming JSON writer', () => {
  it.each([
    ['compact', true],
    ['indented', false],
  ])('%s: the text equals JSON.stringify of the same report, for real reports', (_n, compact) => {
    for (const r of reports()) expect(streamed(r, compact as boolean)).toBe(`${JSON.stringify(r, null, compact ? undefined : 2)}\n`);
  });

  it.each([
    ['compact', true],
    ['indented', false],
  ])('%s: no VMAs, and more VMAs than one 1 MiB chunk holds', (_n, compact) => {
    const r = processReport(process.pid, { exact: true });
    const none = { ...r, vmas: [] };
    expect(streamed(none, compact as boolean)).toBe(`${JSON.stringify(none, null, compact ? undefined : 2)}\n`);
    const many = { ...r, vmas: Array.from({ length: 5000 }, (_, i) => ({ ...base, path: `/p/${i}/é` })) };
    const text = streamed(many, compact as boolean);
    expect(Buffer.byteLength(text)).toBeGreaterThan(2 << 20);
    expect(text).toBe(`${JSON.stringify(many, null, compact ? undefined : 2)}\n`);
  });

  it('streamProcessReport hands over the VMAs and totals processReport returns (one reading each, same process at rest)', () => {
    const vmas: VmaJson[] = [];
    let head: object | undefined;
    const totals = streamProcessReport(process.pid, { exact: true }, { head: (h) => (head = h), vma: (v) => vmas.push(v) });
    expect(head).toMatchObject({ schema: 2, kind: 'process', pid: process.pid });
    expect(vmas.length).toBeGreaterThan(0);
    expect(totals.anonymous).toBe(vmas.reduce((n, v) => n + v.anonymous, 0));
    expect(totals.account.anonymous).toBe(totals.anonymous);
    expect(totals.account.pmdMapped + (totals.account.pteMappedThp ?? 0) + totals.account.small).toBe(totals.anonymous);
  });
});

describe('report --pid --json into a pipe', () => {
  it('a reader that stops early (| head -c 10) is no error: exit 0, as for any other output', () => {
    // 2 000 VMAs of ours: far more JSON than a pipe holds, so the writer meets the closed pipe.
    const P = 4096;
    const m = new Mapping(4000 * P, { commit: true });
    try {
      m.touch();
      for (let i = 1; i < 4000; i += 2) m.decommit(i * P, P);
      const r = spawnSync('bash', ['-c', `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} report --pid ${process.pid} --json | head -c 10 > /dev/null; echo "\${PIPESTATUS[0]}"`], { encoding: 'utf8', timeout: 50000 });
      expect({ status: r.stdout.trim(), stderr: r.stderr }).toEqual({ status: '0', stderr: '' });
    } finally {
      m.unmap();
    }
  });
});
