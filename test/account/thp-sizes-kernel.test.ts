/**
 * THPs by folio size (src/account/thp-sizes.ts, native thpFolios) on the real kernel, against an
 * independent reading written here page by page as the kernel's tools/mm/thpmaps does it
 * (pagemap PFNs, /proc/kpageflags THP, head, tail, anon bits): 64 KiB anonymous folios faulted
 * in under hugepages-64kB/enabled=madvise (set for the test, restored in finally), one of them
 * made partial by MADV_DONTNEED of a page; and the page-cache folios of this process's own
 * file mappings. Root only (the kernel hides PFNs otherwise), mTHP sysfs only (Linux >= 6.8).
 */
import * as fs from 'node:fs';
import { binding } from '../../src/native/binding';
import { Mapping } from '../../src/native/mapping';
import { hugePageSize } from '../../src/native/host';
import { processReport } from '../../src/account/report';
import { fileVmas, thpFolios } from '../../src/account/thp-sizes';
import type { ThpBySize } from '../../src/account/thp-sizes';
import { thrown } from '../support/errors';
import { itUnless, thpReason } from '../support/thp';
import { thpDisabledForSelf } from '../../src/native/host';
import { cli } from '../cli/cli';
import { ADVICE, Target, buildTarget, stopAll } from '../support/c-target';

const P = binding.pageSize();
const H = hugePageSize() || 2 << 20;
const KiB = 1024;
const SIZE64 = '/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled';
const root = process.getuid?.() === 0 && fs.existsSync('/proc/kpageflags');
const notRoot = root ? undefined : 'not root: the kernel hides page frame numbers and kpageflags';
/** THP of any size is off for this process (prctl PR_SET_THP_DISABLE, inherited): the kernel gives it no folio over 4 KiB. */
const thpOff = thpDisabledForSelf() ? 'THP is disabled for this process (prctl PR_SET_THP_DISABLE): the kernel gives it no large folio' : undefined;
const noMthp = thpOff ?? (fs.existsSync(SIZE64) ? undefined : 'no transparent_hugepage/hugepages-64kB (Linux < 6.8, or another page size)');

const KPF_ANON = 1n << 12n;
const KPF_HEAD = 1n << 15n;
const KPF_TAIL = 1n << 16n;
const KPF_THP = 1n << 22n;

function flagsOf(kf: number, pfn: number): bigint {
  const b = Buffer.alloc(8);
  return fs.readSync(kf, b, 0, 8, pfn * 8) === 8 ? b.readBigUInt64LE(0) : 0n;
}

/**
 * thpmaps' thp_parse for one VMA, written again from its definition: the THP pages in runs
 * consecutive both virtually and physically; before a run's first head, or a last folio whose
 * next frame is a tail: partial; else 2^floor(log2 n) pages at that order, aligned where the
 * address is a multiple of the size; less smaps' PMD-mapped bytes from the PMD order. Keys in
 * bytes, non-zero ones only (order 1 kept: thpmaps prints from order 2).
 */
function thpmapsVma(pid: number, start: number, end: number, anonPmd: number, filePmd: number): ThpBySize {
  const pm = fs.openSync(`/proc/${pid}/pagemap`, 'r');
  const kf = fs.openSync('/proc/kpageflags', 'r');
  const pages: { vfn: number; pfn: number; anon: boolean; head: boolean }[] = [];
  const stats = { anon: { partial: 0, aligned: new Map<number, number>(), unaligned: new Map<number, number>() }, file: { partial: 0, aligned: new Map<number, number>(), unaligned: new Map<number, number>() } };
  const kind = (anon: boolean) => stats[anon ? 'anon' : 'file'];
  try {
    const n = (end - start) / P;
    const buf = Buffer.alloc(Math.min(n, 1 << 16) * 8);
    for (let at = 0; at < n; at += buf.length / 8) {
      const got = fs.readSync(pm, buf, 0, Math.min(buf.length, (n - at) * 8), (start / P + at) * 8) / 8;
      for (let i = 0; i < got; i++) {
        const e = buf.readBigUInt64LE(i * 8);
        if (!(e >> 63n)) continue;
        const pfn = Number(e & ((1n << 55n) - 1n));
        const f = flagsOf(kf, pfn);
        if (f & KPF_THP) pages.push({ vfn: start / P + at + i, pfn, anon: (f & KPF_ANON) !== 0n, head: (f & KPF_HEAD) !== 0n });
      }
    }
    for (let i = 0; i < pages.length; ) {
      let j = i;
      while (j + 1 < pages.length && pages[j + 1].vfn === pages[j].vfn + 1 && pages[j + 1].pfn === pages[j].pfn + 1) j++;
      let indexEnd = j + 1;
      const folios: number[] = [];
      for (let k = i; k < indexEnd; k++) if (pages[k].head) folios.push(k);
      kind(pages[i].anon).partial += (folios.length ? folios[0] : indexEnd) - i;
      if (folios.length && flagsOf(kf, pages[j].pfn + 1) & KPF_TAIL) {
        const last = folios.pop()!;
        kind(pages[last].anon).partial += indexEnd - last;
        indexEnd = last;
      }
      folios.forEach((f, x) => {
        const order = Math.floor(Math.log2((x + 1 < folios.length ? folios[x + 1] : indexEnd) - f));
        const nr = 2 ** order;
        const m = kind(pages[f].anon)[pages[f].vfn % nr === 0 ? 'aligned' : 'unaligned'];
        m.set(order, (m.get(order) ?? 0) + nr);
      });
      i = j + 1;
    }
  } finally {
    fs.closeSync(pm);
    fs.closeSync(kf);
  }
  const pmdOrder = Math.log2(H / P);
  const out: ThpBySize = {};
  for (const k of ['anon', 'file'] as const) {
    const s = stats[k];
    s.aligned.set(pmdOrder, Math.max(0, (s.aligned.get(pmdOrder) ?? 0) - (k === 'anon' ? anonPmd : filePmd) / P));
    if (s.partial) out[`${k}-thp-pte-partial`] = s.partial * P;
    for (const cls of ['aligned', 'unaligned'] as const) for (const [order, nr] of s[cls]) if (nr) out[`${k}-thp-pte-${cls}-${(P * 2 ** order) / KiB}kB`] = nr * P;
  }
  return out;
}

/** The current choice of a sysfs setting ("always [madvise] never" -> "madvise"). */
function choice(file: string): string {
  return /\[(\w+)\]/.exec(fs.readFileSync(file, 'utf8'))![1];
}

const sum = (s: ThpBySize, kind: string) => Object.entries(s).reduce((n, [k, v]) => (k.startsWith(`${kind}-`) ? n + v : n), 0);

describe('THPs by folio size', () => {
  itUnless(notRoot ?? noMthp, '64 KiB anonymous folios: aligned and partial, exactly as thpmaps counts them, in JSON, the table and the exporter', () => {
    const before = choice(SIZE64);
    const m = new Mapping(1 << 20, { align: 64 * KiB, commit: true }); // below the PMD size: 64 KiB folios, no 2 MiB one
    try {
      try {
        fs.writeFileSync(SIZE64, 'madvise');
        m.advise('hugepage');
        m.touch();
      } finally {
        fs.writeFileSync(SIZE64, before);
      }
      expect(choice(SIZE64)).toBe(before);
      m.advise('dontneed', 64 * KiB + P, P); // the second folio: 15 of its 16 pages still mapped
      const r = processReport(process.pid, { exact: true });
      const v = r.vmas.find((x) => Number(x.start) <= m.address && m.address < Number(x.end))!;
      const expected = thpmapsVma(process.pid, Number(v.start), Number(v.end), v.anonHugePages, 0);
      expect(v.thpBySize).toEqual(expected);
      // Without the walk (smaps method: whole VMAs read, smaps' PMD counters subtracted) alike.
      const plain = processReport(process.pid, { exact: false }).vmas.find((x) => x.start === v.start)!;
      expect(plain.thpBySize).toEqual(expected);
      // The kernel gave 64 KiB folios (else the test proves nothing), one made partial.
      expect(expected['anon-thp-pte-aligned-64kB']).toBeGreaterThanOrEqual(64 * KiB);
      expect(expected['anon-thp-pte-partial']).toBe(64 * KiB - P);
      // The per-size anon keys break the "in THPs mapped by PTEs" bucket down.
      expect(sum(v.thpBySize!, 'anon')).toBe(v.account.pteMappedThp);
      expect(r.totals.thpBySize!['anon-thp-pte-aligned-64kB']).toBeGreaterThanOrEqual(expected['anon-thp-pte-aligned-64kB']);

      // The CLI reading this process: the table's lines, the JSON, the exporter's series.
      const text = cli(['report', '--pid', String(process.pid)]);
      expect(text.status).toBe(0);
      expect(text.stdout).toMatch(/^ {4}anon-thp-pte-aligned-64kB +\d/m);
      expect(text.stdout).toMatch(/^ {4}anon-thp-pte-partial +\d/m);
      expect(text.stdout).toMatch(/^file THPs mapped by PTEs +\d/m);
      const om = cli(['report', '--pid', String(process.pid), '--format', 'openmetrics']);
      expect(om.status).toBe(0);
      const line = new RegExp(`^hugespan_process_pte_mapped_thp_by_size_bytes\\{[^}]*kind="anon",size="64kB",alignment="aligned"\\} (\\d+)`, 'm').exec(om.stdout);
      expect(Number(line?.[1])).toBeGreaterThanOrEqual(expected['anon-thp-pte-aligned-64kB']);
      expect(om.stdout).toMatch(/^hugespan_process_pte_mapped_thp_by_size_bytes\{[^}]*kind="file",size="any",alignment="partial"\} \d+/m);
    } finally {
      m.unmap();
    }
  }, 60000);

  itUnless(notRoot ?? thpReason, 'PMD-mapped THP is in none of the keys; a huge page split by MADV_DONTNEED of one page is 511 pages of partial', () => {
    const m = new Mapping(2 * H, { align: 'hugepage', commit: true });
    try {
      m.advise('hugepage');
      m.touch();
      m.advise('dontneed', H, P); // the second huge page: split, 511 of its pages still mapped
      m.advise('nohugepage'); // and khugepaged may not collapse it back meanwhile
      for (const exact of [true, false]) {
        const r = processReport(process.pid, { exact });
        const v = r.vmas.find((x) => Number(x.start) <= m.address && m.address < Number(x.end))!;
        expect(v.anonHugePages).toBeGreaterThanOrEqual(H); // the first one is PMD-mapped
        expect(v.thpBySize).toEqual(thpmapsVma(process.pid, Number(v.start), Number(v.end), v.anonHugePages, 0));
        expect(v.thpBySize![`anon-thp-pte-aligned-${H / KiB}kB`]).toBeUndefined();
        expect(v.thpBySize!['anon-thp-pte-partial']).toBe(H - P);
      }
    } finally {
      m.unmap();
    }
  }, 60000);

  const build = notRoot ?? noMthp ?? buildTarget().reason;
  afterAll(() => stopAll());

  itUnless(build ?? noMthp, 'a child moves 64 KiB folios by mremap to an address 4 KiB off: unaligned-64kB, as thpmaps counts them', async () => {
    const t = Target.start(buildTarget().bin!);
    const a = await t.ok('map 1'); // a 2 MiB-aligned frame, a free frame or more either side
    const before = choice(SIZE64);
    try {
      fs.writeFileSync(SIZE64, 'madvise');
      await t.ok(`advise ${a} ${1 << 20} ${ADVICE.hugepage}`); // a 1 MiB VMA: no PMD THP fits
      await t.ok(`touch ${a} ${1 << 20} ${P}`);
    } finally {
      fs.writeFileSync(SIZE64, before);
    }
    const to = a + H + P;
    await t.ok(`mremap ${a} ${256 * KiB} ${to}`);
    const r = processReport(t.pid, { exact: true });
    const v = r.vmas.find((x) => Number(x.start) === to)!;
    const expected = thpmapsVma(t.pid, to, Number(v.end), v.anonHugePages, 0);
    expect(v.thpBySize).toEqual(expected);
    expect(expected['anon-thp-pte-unaligned-64kB']).toBeGreaterThanOrEqual(64 * KiB); // the kernel gave 64 KiB folios
    expect(expected['anon-thp-pte-aligned-64kB']).toBeUndefined();
    // What stayed behind is aligned.
    const rest = r.vmas.find((x) => Number(x.start) === a + 256 * KiB)!;
    expect(rest.thpBySize).toEqual(thpmapsVma(t.pid, Number(rest.start), Number(rest.end), rest.anonHugePages, 0));
    expect(rest.thpBySize!['anon-thp-pte-aligned-64kB']).toBeGreaterThanOrEqual(64 * KiB);
    t.kill();
  }, 60000);

  const fileFolios = (): ThpBySize => {
    const text = fs.readFileSync('/proc/self/maps', 'utf8');
    const pairs = fileVmas(text, new Set());
    const out: ThpBySize = {};
    for (let i = 0; i < pairs.length; i += 2) for (const [k, n] of Object.entries(thpmapsVma(process.pid, pairs[i], pairs[i + 1], 0, 0))) if (k.startsWith('file-')) out[k] = (out[k] ?? 0) + n;
    return out;
  };
  const noFileFolios = notRoot ?? (Object.keys(fileFolios()).length ? undefined : 'no large page-cache folio is mapped by this process (its filesystems give order-0 folios)');

  itUnless(noFileFolios, "page-cache folios of this process's file mappings: the totals' file keys are thpmaps' (less FilePmdMapped)", () => {
    const r = processReport(process.pid, { exact: true });
    const mine = Object.fromEntries(Object.entries(r.totals.thpBySize!).filter(([k]) => k.startsWith('file-')));
    const pmd = r.totals.otherHuge.filePmdMapped + r.totals.otherHuge.shmemPmdMapped;
    const want = fileFolios();
    const pmdKey = `file-thp-pte-aligned-${H / KiB}kB`;
    if (want[pmdKey] !== undefined) want[pmdKey] = Math.max(0, want[pmdKey] - pmd);
    if (!want[pmdKey]) delete want[pmdKey];
    // Anonymous VMAs of private file mappings hold page-cache folios too: both sides read every file VMA.
    expect(mine).toEqual(want);
    expect(sum(mine, 'file')).toBeGreaterThan(0);
  }, 60000);

  itUnless(root ? 'root: frame numbers are visible here' : undefined, 'without root: null ("not visible without root"), never {}', () => {
    const r = processReport(process.pid, { exact: true });
    expect(r.totals.thpBySize).toBeNull();
    expect(r.vmas.every((v) => v.thpBySize === null)).toBe(true);
    expect(cli(['report', '--pid', String(process.pid)]).stdout).toMatch(/file THPs mapped by PTEs +\? +not visible without root/);
  });

  it.each<[string, unknown, string, string]>([
    ['not a Float64Array', [0, 4096, 0], 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['pairs, not triples', new Float64Array([0, 4096]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['unaligned', new Float64Array([1, 4096, 0]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['empty range', new Float64Array([4096, 4096, 0]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['out of order', new Float64Array([8192, 12288, 0, 0, 4096, 0]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['groups going down', new Float64Array([0, 4096, 1, 8192, 12288, 0]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['a negative group', new Float64Array([0, 4096, -1]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['a fractional group', new Float64Array([0, 4096, 0.5]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['beyond 2^53', new Float64Array([0, 2 ** 60, 0]), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
    ['over the bound of one call', new Float64Array([0, 2 ** 52, 0]), 'RangeError', 'ERR_OUT_OF_RANGE'],
  ])('thpFolios ranges %s: refused before anything is opened', (_n, ranges, name, code) => {
    const e = thrown(() => binding.thpFolios(4194304, ranges as Float64Array)); // no such pid: a check after opening would say ENOENT
    expect({ name: e.name, code: e.code }).toEqual({ name, code });
  });

  it('a process that does not exist: undefined through the TypeScript wrapper, ENOENT from the addon', () => {
    expect(thpFolios(4194304, new Float64Array([0, 4096, 0]), P)).toBeUndefined();
    expect(thrown(() => binding.thpFolios(4194304, new Float64Array([0, 4096, 0]))).code).toBe('ENOENT');
  });
});
