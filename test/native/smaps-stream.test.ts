/**
 * The streaming smaps reader (issue 12): the addon reads /proc through one fixed 256 KiB
 * buffer and parses each piece as it comes. It must give exactly what a whole-text parse gives,
 * wherever the piece boundaries fall, on the smaps of every process this test may read, and a
 * plain JS parser (no code shared with the addon) must agree on the same text.
 */
import * as fs from 'node:fs';
import { eachVma, parseSmaps, readSmaps, readSmapsWhere, streamSmaps, Vma } from '../../src/native/smaps';
import { Mapping } from '../../src/native/mapping';
import { binding } from '../../src/native/binding';
import { thrown } from '../support/errors';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { parseSmapsText } = require('../../scripts/bench/js-smaps.js') as { parseSmapsText: (text: string) => Record<string, unknown>[] };

const PAGE = binding.pageSize();

/** Every process's smaps text we can read now (a process may exit or refuse: skipped). */
function readableTexts(): { pid: number; text: Buffer }[] {
  const out: { pid: number; text: Buffer }[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const text = fs.readFileSync(`/proc/${name}/smaps`);
      if (text.length) out.push({ pid: Number(name), text });
    } catch {
      // gone or not ours: nothing to compare
    }
  }
  return out;
}

describe('the streaming smaps parser', () => {
  const texts = readableTexts();

  it('finds processes to read (at least this one)', () => {
    expect(texts.some((t) => t.pid === process.pid)).toBe(true);
  });

  it('on every readable process: pieces of 1, 7, 4093 and 65536 bytes parse to the whole-text result', () => {
    let vmas = 0;
    for (const { pid, text } of texts) {
      const whole = parseSmaps(text);
      vmas += whole.length;
      // One byte a read is slow on large texts: only where the text is small.
      for (const piece of text.length <= 64 * 1024 ? [1, 7, 4093, 65536] : [7, 4093, 65536]) {
        const got = parseSmaps(text, piece);
        if (JSON.stringify(got) !== JSON.stringify(whole)) throw new Error(`pid ${pid}: pieces of ${piece} bytes differ from the whole text`);
      }
    }
    expect(vmas).toBeGreaterThan(texts.length);
  });

  it('on every readable process: a plain JS parser reads the same VMAs from the same text', () => {
    for (const { pid, text } of texts) {
      const ours = parseSmaps(text);
      // Decoded as the addon decodes it: UTF-8, so a path that is not UTF-8 (test/cli/hostile-names
      // maps one while this runs) is U+FFFD in both, and a UTF-8 path the same text in both.
      const theirs = parseSmapsText(text.toString('utf8'));
      // Compared as JSON (key order aside): toEqual on a 60 000-VMA process takes seconds.
      const sorted = (v: object): string => JSON.stringify(Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))));
      const a = ours.map(sorted);
      const b = theirs.map(sorted);
      const at = a.findIndex((x, i) => x !== b[i]);
      if (a.length !== b.length || at >= 0) expect({ pid, ours: a[at], theirs: b[at], count: [a.length, b.length] }).toBeUndefined();
    }
  });

  it('a live read longer than the buffer (6 000 VMAs of ours) streams to what one whole read parses to', () => {
    const m = new Mapping(6000 * PAGE);
    try {
      m.commit();
      m.touch();
      for (let i = 1; i < 6000; i += 2) m.decommit(i * PAGE, PAGE); // 6 000 VMAs, alternately rw and none
      const ours = (vs: Vma[]): Vma[] => vs.filter((v) => v.start >= m.address && v.end <= m.end);
      const text = fs.readFileSync('/proc/self/smaps');
      expect(text.length).toBeGreaterThan(4 * 256 * 1024); // several fills of the fixed buffer
      const streamed = ours(readSmaps('self'));
      const whole = ours(parseSmaps(text));
      expect(streamed.length).toBe(6000);
      expect(streamed).toEqual(whole);
    } finally {
      m.unmap();
    }
  });

  it('fields: only the named fields are kept, every field is still summed', () => {
    const all = readSmaps('self');
    const some = readSmapsWhere('self', { fields: ['anonymous', 'size'] });
    expect(some.vmas.length).toBeGreaterThan(0);
    for (const v of some.vmas) expect(Object.keys(v).sort()).toEqual(['anonymous', 'dev', 'end', 'inode', 'offset', 'path', 'perms', 'size', 'start', 'vmFlags', ...('thpEligible' in v ? ['thpEligible'] : [])].sort());
    expect(Object.keys(some.sums)).toEqual(expect.arrayContaining(['rss', 'pss', 'anonHugePages']));
    expect(some.vmas.map((v) => v.size)).toEqual(some.vmas.map((v) => v.end - v.start));
    expect(all.length).toBeGreaterThan(0);
  });

  it.each([
    ['not an array', 'rss', 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['a number in it', ['rss', 1], 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['empty', [], 'RangeError', 'ERR_OUT_OF_RANGE'],
  ])('fields %s: refused before the file is read', (_n, fields, name, code) => {
    const e = thrown(() => binding.smaps('self', false, 0, 0, fields as never));
    expect({ name: e.name, code: e.code }).toEqual({ name, code });
  });

  it('a piece of 0 bytes is refused; a line longer than the buffer is a parse error naming it', () => {
    expect(thrown(() => binding.parseSmaps('', 0)).code).toBe('ERR_OUT_OF_RANGE');
    const long = `00400000-00401000 r--p 00000000 fd:01 1 /${'x'.repeat(300 * 1024)}\nSize: 4 kB\n`;
    const e = thrown(() => binding.parseSmaps(long));
    expect({ code: e.code, message: e.message }).toEqual({ code: 'ERR_HUGESPAN_SMAPS_PARSE', message: expect.stringContaining('longer than the 262144-byte read buffer') });
  });
});

describe('smaps in batches (smapsStream)', () => {
  it('batches of a 6 000-VMA read, joined, are what one read gives; the end carries the totals', () => {
    const m = new Mapping(6000 * PAGE);
    try {
      m.commit();
      m.touch();
      for (let i = 1; i < 6000; i += 2) m.decommit(i * PAGE, PAGE);
      const ours = (vs: Vma[]): Vma[] => vs.filter((v) => v.start >= m.address && v.end <= m.end);
      const batched: Vma[] = [];
      let batches = 0;
      const end = streamSmaps('self', {}, (flat) => {
        batches++;
        eachVma(flat, (v) => batched.push(v));
      });
      expect(batches).toBeGreaterThanOrEqual(2); // 4 096 VMAs a batch
      expect(end.total).toBe(batched.length);
      expect(end.sums.size).toBe(batched.reduce((n, v) => n + v.size, 0));
      expect(ours(batched)).toEqual(ours(readSmaps('self')));
      expect(ours(batched).length).toBe(6000);
    } finally {
      m.unmap();
    }
  });

  it('a process that does not exist fails at open, before any batch', () => {
    const e = thrown(() => binding.smapsStream(4194304));
    expect({ code: e.code, syscall: e.syscall, path: e.path }).toEqual({ code: 'ENOENT', syscall: 'open', path: '/proc/4194304/smaps' });
  });

  it('only a stream is taken: anything else is a TypeError, nothing is read', () => {
    for (const bad of [{}, null, 1, new Mapping(PAGE), Buffer.alloc(8)]) {
      expect(thrown(() => binding.smapsNext(bad as never)).code).toBe('ERR_INVALID_ARG_TYPE');
      expect(thrown(() => binding.smapsClose(bad as never)).code).toBe('ERR_INVALID_ARG_TYPE');
    }
  });

  it('closed early, twice, or left to the collector: no hang, the next call ends or says ECANCELED', () => {
    for (let i = 0; i < 20; i++) {
      const s = binding.smapsStream('self', 0, 0);
      if (i % 2) binding.smapsNext(s);
      binding.smapsClose(s);
      binding.smapsClose(s);
      let ended: string;
      try {
        ended = 'done' in binding.smapsNext(s) ? 'done' : 'batch';
      } catch (e) {
        ended = (e as { code?: string }).code ?? 'error';
      }
      expect(['done', 'batch', 'ECANCELED']).toContain(ended);
    }
    for (let i = 0; i < 20; i++) binding.smapsStream('self'); // dropped unread: joined when collected
  });
});
