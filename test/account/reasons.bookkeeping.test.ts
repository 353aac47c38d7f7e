/**
 * Bookkeeping only (made-up VMAs, no kernel): the reason vocabulary's order and thresholds, for
 * the cases a live process on this host cannot be made into — swap (this host has none),
 * khugepaged tunables other than the defaults, a VMA the kernel calls ineligible. The live
 * reasons are tested on real processes in account.test.ts.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REASONS, frameReason, frameReasonUnder, vmaReason, ReasonContext, pmdMode } from '../../src/account/reasons';
import type { Vma } from '../../src/native/smaps';

const H = 2 << 20;
const P = 4096;
const ctx: ReasonContext = { thpDisabled: false, enabled: 'madvise', hugePage: H, pageSize: P, maxPtesNone: 511, maxPtesSwap: 64, maxPtesShared: 256 };
/** A frame's PTE facts (frame-facts.ts): all 512 present and exclusive unless overridden. */
const facts = (over: Record<string, number | null> = {}) => ({ pages: 512, present: 512, swapped: 0, none: 0, exclusive: 512, shared: 0, zero: 0, uffdWp: 0, ...over });
const vma = (over: Partial<Vma> = {}): Vma =>
  ({ start: 4 * H, end: 8 * H, perms: 'rw-p', offset: 0, dev: '00:00', inode: 0, path: '', vmFlags: ['rd', 'wr', 'hg'], thpEligible: true, size: 4 * H, rss: 0, pss: 0, anonymous: 0, anonHugePages: 0, swap: 0, ...over }) as Vma;

describe('the order: the first reason that applies wins', () => {
  it('the vocabulary is listed in the order it is applied, each code once', () => {
    const codes = REASONS.map((r) => r.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect(codes.indexOf('process-thp-disabled')).toBeLessThan(codes.indexOf('host-thp-never'));
    expect(codes.indexOf('file-backed-vma')).toBeLessThan(codes.indexOf('vma-nohugepage'));
    expect(codes.indexOf('too-many-swapped')).toBeLessThan(codes.indexOf('too-few-present'));
    expect(codes[codes.length - 1]).toBe('not-determined');
  });
  it('VMA-wide: prctl, then never, then a file, then nh, then madvise without hg, then no whole frame', () => {
    expect(vmaReason(vma({ vmFlags: ['nh'], inode: 7 }), { ...ctx, thpDisabled: true, enabled: 'never' })).toBe('process-thp-disabled');
    expect(vmaReason(vma({ vmFlags: ['nh'], inode: 7 }), { ...ctx, enabled: 'never' })).toBe('host-thp-never');
    expect(vmaReason(vma({ vmFlags: ['nh'], inode: 7 }), ctx)).toBe('file-backed-vma');
    expect(vmaReason(vma({ perms: 'rw-s' }), ctx)).toBe('file-backed-vma');
    expect(vmaReason(vma({ vmFlags: ['nh'] }), ctx)).toBe('vma-nohugepage');
    expect(vmaReason(vma({ vmFlags: [] }), ctx)).toBe('madvise-mode-not-advised');
    expect(vmaReason(vma({ vmFlags: [] }), { ...ctx, enabled: 'always' })).toBeUndefined();
    expect(vmaReason(vma({ start: 4 * H + P, end: 6 * H - P }), ctx)).toBe('frame-outside-vma');
    expect(vmaReason(vma({ thpEligible: false }), ctx)).toBeUndefined(); // per frame, after its edges
    expect(vmaReason(vma(), ctx)).toBeUndefined();
  });
});

describe('frame reasons and khugepaged thresholds', () => {
  it('a frame not wholly inside the VMA', () => {
    expect(frameReason(vma({ start: 4 * H + P }), 4 * H, P, ctx)).toBe('frame-outside-vma');
  });
  it("the kernel's THPeligible 0 after the frame's edges", () => {
    expect(frameReason(vma({ thpEligible: false, start: 4 * H + P }), 4 * H, P, ctx)).toBe('frame-outside-vma');
    expect(frameReason(vma({ thpEligible: false }), 5 * H, H, ctx)).toBe('kernel-ineligible');
  });
  it('more swapped pages than max_ptes_swap: too-many-swapped; at the limit, not', () => {
    expect(frameReason(vma(), 5 * H, H / 2, ctx, { swapped: 65 })).toBe('too-many-swapped');
    expect(frameReason(vma(), 5 * H, H / 2, ctx, { swapped: 64 })).toBe('collapsible-waiting');
  });
  it('present pages below 512 - max_ptes_none: too-few-present (with 511, one page is enough)', () => {
    expect(frameReason(vma(), 5 * H, P, ctx)).toBe('collapsible-waiting');
    const strict = { ...ctx, maxPtesNone: 0 };
    expect(frameReason(vma(), 5 * H, H - P, strict)).toBe('too-few-present');
    expect(frameReason(vma(), 5 * H, H, strict)).toBe('collapsible-waiting');
  });
});

describe('per-size settings: the 2 MiB size\'s own enabled wins over the top-level one unless it inherits', () => {
  it('hugepages-2048kB/enabled never shuts PMD THP even with enabled = always; always opens it with enabled = never', () => {
    expect(pmdMode({ ...ctx, enabled: 'always', pmdEnabled: 'never' })).toBe('never');
    expect(vmaReason(vma(), { ...ctx, enabled: 'always', pmdEnabled: 'never' })).toBe('host-thp-never');
    expect(vmaReason(vma({ vmFlags: [] }), { ...ctx, enabled: 'never', pmdEnabled: 'always' })).toBeUndefined();
    expect(vmaReason(vma(), { ...ctx, enabled: 'never', pmdEnabled: 'inherit' })).toBe('host-thp-never');
  });
  it('hugepages-2048kB/enabled madvise with enabled = always: an unadvised VMA is madvise-mode-not-advised', () => {
    expect(vmaReason(vma({ vmFlags: [] }), { ...ctx, enabled: 'always', pmdEnabled: 'madvise' })).toBe('madvise-mode-not-advised');
    expect(vmaReason(vma({ vmFlags: [] }), { ...ctx, enabled: 'madvise', pmdEnabled: 'always' })).toBeUndefined();
  });
});

describe('the kinds of VMA', () => {
  it('a private /dev/zero map is anonymous; a shared one is not', () => {
    expect(vmaReason(vma({ inode: 4, path: '/dev/zero' }), ctx)).toBeUndefined();
    expect(vmaReason(vma({ inode: 4, path: '/dev/zero', perms: 'rw-s' }), ctx)).toBe('file-backed-vma');
  });
  it('an unadvised ordinary VMA the kernel calls ineligible in always mode: THP disabled except advised (prctl, 6.18)', () => {
    const always = { ...ctx, enabled: 'always' };
    expect(vmaReason(vma({ vmFlags: ['rd', 'wr'], thpEligible: false }), always)).toBe('thp-disabled-except-advised');
    expect(vmaReason(vma({ vmFlags: ['rd', 'wr', 'pf', 'io'], thpEligible: false }), always)).toBeUndefined(); // special: kernel-ineligible per frame
    expect(frameReason(vma({ vmFlags: ['rd', 'wr', 'pf', 'io'], thpEligible: false }), 5 * H, H, always)).toBe('kernel-ineligible');
    expect(vmaReason(vma({ thpEligible: false }), always)).toBeUndefined(); // advised: except-advised does not apply
  });
  it('mlock is not a reason: a locked VMA (VmFlags lo) is eligible', () => {
    expect(vmaReason(vma({ vmFlags: ['rd', 'wr', 'lo', 'hg'] }), ctx)).toBeUndefined();
    expect(frameReason(vma({ vmFlags: ['rd', 'wr', 'lo', 'hg'] }), 5 * H, H, ctx, facts())).toBe('collapsible-waiting');
  });
});

describe('frame facts decide khugepaged against collapse only', () => {
  const at = (over: Record<string, number | null>, v = vma()) => frameReason(v, 5 * H, (over.present ?? 512) * P, ctx, facts(over));
  it('shared PTEs over max_ptes_shared: shared-with-other-process; at the limit, collapsible; zero-page PTEs are not shared', () => {
    expect(at({ exclusive: 255, shared: 257 })).toBe('shared-with-other-process');
    expect(at({ exclusive: 256, shared: 256 })).toBe('collapsible-waiting');
    expect(at({ exclusive: 0, shared: 512, zero: 300 })).toBe('collapsible-waiting'); // 212 shared + 300 "none" (<= 511)
  });
  it('userfaultfd: holes in an armed VMA, and write-protected PTEs, stop khugepaged and collapse alike', () => {
    const armed = vma({ vmFlags: ['rd', 'wr', 'um', 'hg'] });
    expect(at({ present: 256, none: 256, exclusive: 256 }, armed)).toBe('uffd-armed-holes');
    expect(at({ present: 512, zero: 1, exclusive: 511, shared: 1 }, armed)).toBe('uffd-armed-holes'); // a zero-page PTE is a hole
    expect(at({}, armed)).toBe('collapsible-waiting');
    expect(at({ uffdWp: 1 }, vma({ vmFlags: ['rd', 'wr', 'uw', 'hg'] }))).toBe('uffd-wp-protected');
    expect(at({ present: 256, none: 256, exclusive: 256 })).toBe('collapsible-waiting'); // not armed: holes are max_ptes_none's
  });
  it('where a VMA-wide reason promises only collapse, userfaultfd still stops it; other VMA-wide reasons stand', () => {
    const armed = vma({ vmFlags: ['rd', 'wr', 'um'] });
    expect(frameReasonUnder('madvise-mode-not-advised', armed, ctx, facts({ present: 256, none: 256 }))).toBe('uffd-armed-holes');
    expect(frameReasonUnder('madvise-mode-not-advised', armed, ctx, facts())).toBe('madvise-mode-not-advised');
    expect(frameReasonUnder('vma-nohugepage', armed, ctx, facts({ present: 256, none: 256 }))).toBe('vma-nohugepage');
    expect(frameReasonUnder('madvise-mode-not-advised', vma({ vmFlags: [] }), ctx, facts({ present: 256, none: 256 }))).toBe('madvise-mode-not-advised');
  });
  it('swapped: over max_ptes_swap, or any with under half the frame present (khugepaged needs 256 referenced)', () => {
    expect(at({ present: 447, swapped: 65 })).toBe('too-many-swapped');
    expect(at({ present: 448, swapped: 64 })).toBe('collapsible-waiting');
    expect(at({ present: 255, swapped: 1, none: 256 })).toBe('too-many-swapped');
    expect(at({ present: 256, swapped: 1, none: 255 })).toBe('collapsible-waiting');
  });
  it('empty PTEs over max_ptes_none: too-few-present, zero-page PTEs counted as empty', () => {
    const strict = { ...ctx, maxPtesNone: 64 };
    expect(frameReason(vma(), 5 * H, 448 * P, strict, facts({ present: 448, none: 64 }))).toBe('collapsible-waiting');
    expect(frameReason(vma(), 5 * H, 448 * P, strict, facts({ present: 448, none: 64, zero: 1, exclusive: 447, shared: 1 }))).toBe('too-few-present');
  });
});

describe('every reason states its prediction', () => {
  it('each says who will act, and those where MADV_COLLAPSE fails name its errno', () => {
    for (const r of REASONS) {
      expect(['khugepaged', 'collapse-only', 'nothing', 'unknown']).toContain(r.will);
      if (r.errno) expect(r.will).toBe('nothing');
      if (r.will === 'collapse-only') expect(r.meaning).toMatch(/hugespan collapse (still )?will/);
      if (r.will === 'nothing') expect(r.meaning).toMatch(/no fault, khugepaged or|neither khugepaged nor|nothing will|never anonymous THP/);
    }
  });
});

describe("the README's reasons table is REASONS", () => {
  it('one row per reason, in order, with its prediction, meaning and fix', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| (\d+) \| `([a-z-]+)` \| ([^|]+) \| (.+) \| (.+) \|$/gm)];
    expect(rows.map((m) => m[2])).toEqual(REASONS.map((r) => r.code));
    rows.forEach((m, i) => {
      const r = REASONS[i];
      expect(m[3]).toContain({ khugepaged: 'khugepaged will', 'collapse-only': 'only hugespan collapse', nothing: 'nothing', unknown: '-' }[r.will]);
      if (r.errno) expect(m[3]).toContain(r.errno);
      expect(m[4].replace(/\\\|/g, '|')).toBe(r.meaning);
      expect(m[5].replace(/\\\|/g, '|')).toBe(r.fix);
    });
  });
});
