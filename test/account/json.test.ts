/**
 * The fast paths of `report --pid --json` (issue 12) write exactly what JSON.stringify writes:
 * vmaText for one VMA, and the streaming writer for a whole report, compact and indented, on the
 * reports of real processes and on VMAs built to hit every escape and odd value.
 */
import * as fs from 'node:fs';
import { processReport, streamProcessReport } from '../../src/account/report';
import { vmaText } from '../../src/account/json';
import type { ProcessReport, VmaJson } from '../../src/account/schema';
import { processJsonWriter } from '../../src/cli/report';
import type { Writer } from '../../src/cli/output';

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
  const { vmas, totals, ...head } = r;
  json.head(head);
  for (const v of vmas) json.vma(v);
  json.end(totals);
  expect(w.ended).toBe(true);
  return w.text();
}

describe('vmaText', () => {
  it('equals JSON.stringify on every VMA of real reports', () => {
    let n = 0;
    for (const r of reports()) {
      for (const v of r.vmas) {
        expect(vmaText(v)).toBe(JSON.stringify(v));
        n++;
      }
    }
    expect(n).toBeGreaterThan(10);
  });

  it.each<[string, Partial<VmaJson>]>([
    ['a path with quotes, backslashes, controls and non-ASCII', { path: '/tmp/a "b"\\c\td\u0001é😀 (deleted)' }],
    ['thpEligible true and false', { thpEligible: true }],
    ['thpEligible false', { thpEligible: false }],
    ['no flags, no frames, no reasons', { vmFlags: [], frames: [], account: { anonymous: 0, pmdMapped: 0, pteMappedThp: 0, small: 0, reasons: {} } }],
    ['non-finite numbers become null', { coverage: NaN, rss: Infinity, size: -Infinity }],
    ['large and fractional numbers', { size: 2 ** 53 - 1, coverage: 1 / 3, rss: 1e21 }],
    ['a flag that needs escaping', { vmFlags: ['"q', 'b\\'] }],
  ])('equals JSON.stringify: %s', (_name, over) => {
    const v = { ...base, ...over };
    expect(vmaText(v)).toBe(JSON.stringify(v));
  });

  it('a VMA with a field vmaText does not know is caught (the test above would fail)', () => {
    const v = { ...base, extra: 1 } as VmaJson;
    expect(vmaText(v)).not.toBe(JSON.stringify(v));
  });
});

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
