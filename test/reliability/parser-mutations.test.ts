/**
 * The smaps parser against hostile text: seeded mutations of a real smaps excerpt, plus
 * truncation at every byte. Each input either parses or throws ERR_HUGESPAN_SMAPS_PARSE;
 * never a crash, never a hang, and never a number that was not in the text.
 * `npm test` tries 25 000 mutations (~3 000 of each of the 8 kinds, ~7 s); `npm run stress`
 * runs this file with HUGESPAN_MUTATIONS=1000000, the same seeded sequence continued, and
 * `npm run fuzz` drives the C++ parser with libFuzzer.
 */
import { parseSmaps, readSmaps } from '../../src/native/smaps';
import { binding } from '../../src/native/binding';
import { Rand } from '../../src/heap/rand';
import { Mapping } from '../../src/native/mapping';
import { heavyCount, progress } from '../support/child';

const MUTATIONS = heavyCount('HUGESPAN_MUTATIONS', 25_000);
/** A long run says how far it got at least this often (a silent test looks hung). */
const PROGRESS_MS = 10_000;

// A real excerpt: the first VMAs of our own smaps, plus our mapping's entry.
function realText(): string {
  const m = new Mapping(1 << 20, { commit: true });
  m.touch();
  const text: string = require('node:fs').readFileSync('/proc/self/smaps', 'utf8');
  m.unmap();
  const lines = text.split('\n');
  const starts = lines.flatMap((l: string, i: number) => (/^[0-9a-f]+-[0-9a-f]+ /.test(l) ? [i] : []));
  return lines.slice(0, starts[6]).join('\n') + '\n';
}

const NUMBER = /\d+/g;
const HEX = /[0-9a-fA-F]+/g;

/** Every number the parser returned is spelled in the text (bytes as kB, addresses as hex). */
function numbersComeFromText(text: string, vmas: ReturnType<typeof parseSmaps>): string | undefined {
  const dec = new Set((text.match(NUMBER) ?? []).map((d) => d.replace(/^0+(?=.)/, '')));
  const hex = new Set((text.match(HEX) ?? []).map((h) => h.toLowerCase().replace(/^0+(?=.)/, '')));
  for (const v of vmas) {
    for (const k of ['start', 'end', 'offset'] as const) if (!hex.has(v[k].toString(16))) return `${k} ${v[k].toString(16)} is not in the text`;
    if (!dec.has(String(v.inode))) return `inode ${v.inode} is not in the text`;
    for (const [k, val] of Object.entries(v)) {
      if (typeof val !== 'number' || ['start', 'end', 'offset', 'inode'].includes(k)) continue;
      if (!dec.has(String(val)) && !(val % 1024 === 0 && dec.has(String(val / 1024)))) return `${k} = ${val} is not in the text`;
    }
  }
  return undefined;
}

function mutate(rand: Rand, text: string): string {
  const b = Buffer.from(text, 'latin1');
  const kind = rand.int(8);
  const at = rand.int(b.length);
  switch (kind) {
    case 0: // flip a byte to anything, including NUL and non-UTF-8
      b[at] = rand.int(256);
      return b.toString('latin1');
    case 1: // delete a run
      return text.slice(0, at) + text.slice(at + 1 + rand.int(64));
    case 2: // duplicate a run (duplicate fields, repeated headers)
      return text.slice(0, at) + text.slice(at, at + 1 + rand.int(200)) + text.slice(at);
    case 3: // truncate
      return text.slice(0, at);
    case 4: // an oversized number
      return text.slice(0, at) + '9'.repeat(1 + rand.int(40)) + text.slice(at);
    case 5: { // swap two lines (reordered fields, a field before its header)
      const lines = text.split('\n');
      const i = rand.int(lines.length), j = rand.int(lines.length);
      [lines[i], lines[j]] = [lines[j], lines[i]];
      return lines.join('\n');
    }
    case 6: // CRLF and stray CRs
      return text.replace(/\n/g, rand.int(2) ? '\r\n' : '\n\r');
    default: // insert random bytes
      return text.slice(0, at) + Buffer.from(Array.from({ length: 1 + rand.int(16) }, () => rand.int(256))).toString('latin1') + text.slice(at);
  }
}

describe('smaps parser robustness', () => {
  const text = realText();

  it('parses the unmutated excerpt and every number in it is from the text', () => {
    const vmas = parseSmaps(text);
    expect(vmas.length).toBe(6);
    expect(numbersComeFromText(text, vmas)).toBeUndefined();
  });

  it('truncation at every byte: parses or throws a parse error', () => {
    let parsed = 0;
    for (let i = 0; i <= text.length; i++) {
      try {
        parseSmaps(text.slice(0, i));
        parsed++;
      } catch (e) {
        expect((e as { code?: string }).code).toBe('ERR_HUGESPAN_SMAPS_PARSE');
      }
    }
    expect(parsed).toBeGreaterThan(0);
  });

  it(`${MUTATIONS} seeded mutations: parse or a clear error, no invented numbers`, () => {
    const rand = new Rand(20190418);
    const outcome = { parsed: 0, refused: 0 };
    let told = Date.now();
    for (let i = 0; i < MUTATIONS; i++) {
      if ((i & 1023) === 0 && Date.now() - told > PROGRESS_MS) {
        progress(`parser mutations: ${i} of ${MUTATIONS} (${outcome.parsed} parsed, ${outcome.refused} refused)`);
        told = Date.now();
      }
      const input = mutate(rand, text);
      let vmas;
      try {
        vmas = parseSmaps(Buffer.from(input, 'latin1'));
      } catch (e) {
        if ((e as { code?: string }).code !== 'ERR_HUGESPAN_SMAPS_PARSE') throw new Error(`mutation ${i}: unexpected ${String(e)}`);
        expect((e as Error).message).toMatch(/line \d+/);
        outcome.refused++;
        continue;
      }
      outcome.parsed++;
      const bad = numbersComeFromText(input, vmas);
      if (bad) throw new Error(`mutation ${i} (seed 20190418): ${bad}`);
    }
    process.stderr.write(`parser mutations: ${MUTATIONS} tried, ${outcome.parsed} parsed, ${outcome.refused} refused, 0 crashes\n`);
    expect(outcome.parsed + outcome.refused).toBe(MUTATIONS);
    expect(outcome.parsed).toBeGreaterThan(MUTATIONS / 10);
    expect(outcome.refused).toBeGreaterThan(MUTATIONS / 10);
  });

  it('a large real smaps (every VMA of this process) parses', () => {
    expect(readSmaps().length).toBeGreaterThan(20);
  });
});
