/**
 * Bookkeeping only (made-up VMAs, no kernel): the reason vocabulary's order and thresholds, for
 * the cases a live process on this host cannot be made into — swap (this host has none),
 * khugepaged tunables other than the defaults, a VMA the kernel calls ineligible. The live
 * reasons are tested on real processes in account.test.ts.
 */
import { REASONS, frameReason, vmaReason, ReasonContext } from '../../src/account/reasons';
import type { Vma } from '../../src/native/smaps';

const H = 2 << 20;
const P = 4096;
const ctx: ReasonContext = { thpDisabled: false, enabled: 'madvise', hugePage: H, pageSize: P, maxPtesNone: 511, maxPtesSwap: 64 };
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
