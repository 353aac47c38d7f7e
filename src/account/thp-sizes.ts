/**
 * THPs by folio size, as the kernel's tools/mm/thpmaps names them: `anon-thp-pte-aligned-64kB`,
 * `file-thp-pte-unaligned-16kB`, `anon-thp-pte-partial` … (bytes). Multi-size THP and large
 * page-cache folios are mapped by PTEs, so smaps counts them as small pages; only pagemap's
 * frame numbers and /proc/kpageflags (root only) tell their size. Invariant: PMD-mapped THP is
 * never in these keys (smaps' AnonHugePages, FilePmdMapped, ShmemPmdMapped are subtracted from
 * the PMD order's aligned count, clamped at 0, as thpmaps does); where frame numbers are hidden
 * the answer is `undefined` ("not visible without root"), never {}. Only non-zero keys are kept.
 */
import { binding } from '../native/binding';
import { rangeBatches } from './kpageflags';

/** Bytes by thpmaps' key, e.g. { "anon-thp-pte-aligned-64kB": 1048576 }. */
export interface ThpBySize {
  [key: string]: number;
}

/** thpmaps' classes, by the addon's number (native/pageflags.cc ThpFolios). */
export const FOLIO_CLASSES = ['partial', 'aligned', 'unaligned'] as const;
export type FolioClass = (typeof FOLIO_CLASSES)[number];

/** A key's parts: kind, class, and the folio size in kB (undefined for partial). */
export interface ThpSizeKey {
  kind: 'anon' | 'file';
  cls: FolioClass;
  sizeKb?: number;
}

const KEY = /^(anon|file)-thp-pte-(?:(partial)|(aligned|unaligned)-(\d+)kB)$/;

export function thpSizeKey(k: ThpSizeKey): string {
  return k.cls === 'partial' ? `${k.kind}-thp-pte-partial` : `${k.kind}-thp-pte-${k.cls}-${k.sizeKb}kB`;
}

/** The parts of a key thpSizeKey made; undefined for any other string. */
export function parseThpSizeKey(key: string): ThpSizeKey | undefined {
  const m = KEY.exec(key);
  if (!m) return undefined;
  return m[2] ? { kind: m[1] as 'anon' | 'file', cls: 'partial' } : { kind: m[1] as 'anon' | 'file', cls: m[3] as FolioClass, sizeKb: Number(m[4]) };
}

/** Add `from` into `into`, key by key. */
export function addBySize(into: ThpBySize, from: ThpBySize): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/** The keys of one kind (anon or file) summed. */
export function kindBytes(s: ThpBySize, kind: 'anon' | 'file'): number {
  let n = 0;
  for (const [k, v] of Object.entries(s)) if (k.startsWith(`${kind}-`)) n += v;
  return n;
}

/**
 * Take PMD-mapped bytes out of the PMD order's aligned count, clamped at 0 (thpmaps: smaps and
 * pagemap are read at different times, so the difference could go negative).
 */
export function withoutPmdMapped(s: ThpBySize, kind: 'anon' | 'file', pmdBytes: number, hugePageSize: number): void {
  const key = thpSizeKey({ kind, cls: 'aligned', sizeKb: hugePageSize / 1024 });
  if (!(key in s)) return;
  const left = Math.max(0, s[key] - pmdBytes);
  if (left) s[key] = left;
  else delete s[key];
}

/**
 * Per group (a VMA), the THP pages of `triples` (start, end, group; page-aligned, ascending,
 * groups non-decreasing) by thpmaps' keys, PMD-mapped ones included; `undefined` where frame
 * numbers are hidden (not root) or the process cannot be read. A read over more address space
 * than one addon call takes goes in pieces at group boundaries (a group larger than the bound
 * alone is cut, which thpmaps would not do: a folio across the cut counts as partial).
 */
export function thpFolios(pid: number | 'self', triples: Float64Array, pageSize: number): Map<number, ThpBySize> | undefined {
  const out = new Map<number, ThpBySize>();
  try {
    const limit = binding.limits().maxThpRangeBytes;
    for (const piece of rangeBatches(triples, limit, 3)) {
      const r = binding.thpFolios(pid, piece);
      if (!r) return undefined;
      for (let i = 0; i + 4 < r.length; i += 5) {
        const [group, anon, cls, order, pages] = [r[i], r[i + 1], r[i + 2], r[i + 3], r[i + 4]];
        let s = out.get(group);
        if (!s) out.set(group, (s = {}));
        const key = thpSizeKey({ kind: anon ? 'anon' : 'file', cls: FOLIO_CLASSES[cls], sizeKb: (pageSize * 2 ** order) / 1024 });
        s[key] = (s[key] ?? 0) + pages * pageSize;
      }
    }
    return out;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'EACCES' || code === 'EPERM' || code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw e;
  }
}

/**
 * Per VMA (its index in `bounds`, start, end pairs), by thpmaps' keys. `only`: the pages to
 * read (start, end pairs, ascending), e.g. the THP pages thpRanges found among a PAGEMAP_SCAN
 * walk's small runs: thpmaps' runs are of THP pages alone, so reading just those classifies
 * alike, PMD-mapped folios left out, and costs what the THP pages are, not every present page.
 * Without `only`, whole VMAs are read as thpmaps does, PMD-mapped folios included.
 */
export function vmaFolios(pid: number, bounds: Float64Array, only: Float64Array | undefined, pageSize: number): Map<number, ThpBySize> | undefined {
  const triples: number[] = [];
  let r = 0;
  for (let i = 0; i + 1 < bounds.length; i += 2) {
    const s = bounds[i];
    const e = bounds[i + 1];
    if (!only) {
      triples.push(s, e, i / 2);
      continue;
    }
    while (r < only.length && only[r + 1] <= s) r += 2;
    for (let k = r; k < only.length && only[k] < e; k += 2) {
      const a = Math.max(s, only[k]);
      const b = Math.min(e, only[k + 1]);
      const n = triples.length;
      if (n && triples[n - 2] === a && triples[n - 1] === i / 2) triples[n - 2] = b;
      else triples.push(a, b, i / 2);
    }
  }
  return thpFolios(pid, Float64Array.from(triples), pageSize);
}

/**
 * The file-backed VMAs in a /proc/PID/maps text (an inode) as start, end pairs, except those
 * starting at an address in `skip` (VMAs already read). Where large page-cache folios are: the
 * report keeps only VMAs holding anonymous memory.
 */
export function fileVmas(mapsText: string, skip: ReadonlySet<number>): number[] {
  const out: number[] = [];
  for (const line of mapsText.split('\n')) {
    // start-end perms offset dev inode path
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)/.exec(line);
    if (!m || m[3] === '0') continue;
    const s = parseInt(m[1], 16);
    const e = parseInt(m[2], 16);
    if (s < e && e <= Number.MAX_SAFE_INTEGER && !skip.has(s)) out.push(s, e);
  }
  return out;
}
