/**
 * The OS layer over FakeMemory: the fake refuses what the addon refuses and models the kernel's
 * hg/nh flags per huge page frame; Sys issues exactly the madvise calls mem_linux.go would.
 */
import { FakeMemory } from '../../src/sys/fake';
import { Sys } from '../../src/sys/sys';
import { KiB, MiB, thrown } from './helpers';

const H = 2 * MiB;

describe('FakeMemory', () => {
  it('hands out huge-page aligned, disjoint reservations from a fake address counter', () => {
    const mem = new FakeMemory();
    const a = mem.reserve(3 * H, H);
    const b = mem.reserve(4096, 4096);
    expect(a).toBe(0x7f00_0000_0000);
    expect(b % H).toBe(0);
    expect(b).toBeGreaterThanOrEqual(a + 3 * H);
    expect(mem.reservations()).toEqual([[a, 3 * H], [b, 4096]]);
  });

  it('refuses unaligned and foreign ranges, and changes nothing when it does', () => {
    const mem = new FakeMemory();
    const v = mem.reserve(2 * H, H);
    const other = mem.reserve(H, H);
    const cases: [() => void, string, string][] = [
      [() => mem.madvise(v + 1, 4096, 'nohugepage'), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
      [() => mem.madvise(v, 100, 'nohugepage'), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
      [() => mem.madvise(v, 0, 'nohugepage'), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
      [() => mem.commit(v - 4096, 8192), 'RangeError', 'ERR_HUGESPAN_NOT_OWNED'],
      [() => mem.madvise(v + H, 2 * H, 'nohugepage'), 'RangeError', 'ERR_HUGESPAN_NOT_OWNED'],
      [() => mem.madvise(v, other + H - v, 'nohugepage'), 'RangeError', 'ERR_HUGESPAN_NOT_OWNED'],
      [() => mem.unmap(v + H), 'RangeError', 'ERR_HUGESPAN_NOT_OWNED'],
      [() => mem.madvise(v, 4096, 'bogus' as never), 'RangeError', 'ERR_INVALID_ARG_VALUE'],
      [() => mem.commit('0' as never, 4096), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
      [() => mem.touch(v, 4096), 'RangeError', 'ERR_HUGESPAN_NOT_COMMITTED'],
    ];
    for (const [call, name, code] of cases) {
      const e = thrown(call);
      expect([e.name, e.code]).toEqual([name, code]);
    }
    expect(mem.framesMarked('none', v, 2 * H)).toBe(2);
    expect(mem.committedBytes(v, 2 * H)).toBe(0);
    mem.unmap(v);
    expect(thrown(() => mem.commit(v, 4096)).code).toBe('ERR_HUGESPAN_NOT_OWNED');
  });

  it('tracks hg/nh per OS page and reports frames exactly, including mixed ones', () => {
    const mem = new FakeMemory();
    const v = mem.reserve(4 * H, H);
    mem.madvise(v, 4 * H, 'hugepage');
    mem.madvise(v + H, H, 'nohugepage');
    mem.madvise(v + 2 * H, 4096, 'nohugepage');
    expect(mem.flagsAt(v)).toBe('hg');
    expect(mem.flagsAt(v + H + 123 * 4096)).toBe('nh');
    expect(mem.flagsAt(v + 2 * H)).toBe('nh');
    expect(mem.flagsAt(v + 2 * H + 4096)).toBe('hg');
    expect([0, 1, 2, 3].map((i) => mem.frameFlags(v + i * H + 5))).toEqual(['hg', 'nh', 'mixed', 'hg']);
    expect(mem.framesMarked('hg', v, 4 * H)).toBe(2);
    expect(mem.framesMarked('nh', v + H + 4096, 4096)).toBe(1);
    expect(mem.framesMarked('mixed', v, 4 * H)).toBe(1);
    mem.madvise(v, 4 * H, 'hugepage');
    expect(mem.framesMarked('hg', v, 4 * H)).toBe(4);
  });

  it('tracks commit and residency: touch needs commit, dontneed and free release', () => {
    const mem = new FakeMemory();
    const v = mem.reserve(H, H);
    mem.commit(v, H);
    mem.touch(v, 64 * KiB);
    expect(mem.residentBytes(v, H)).toBe(64 * KiB);
    mem.madvise(v, 16 * KiB, 'dontneed');
    mem.madvise(v + 48 * KiB, 16 * KiB, 'free');
    expect(mem.residentBytes(v, H)).toBe(32 * KiB);
    expect(mem.committedBytes(v, H)).toBe(H);
  });

  it('models hosts without huge pages and with 64 KiB OS pages', () => {
    const none = new FakeMemory({ physHugePageSize: 0 });
    const v = none.reserve(8 * 4096, 4096);
    expect(none.framesMarked('nh', v, 4096)).toBe(0);
    expect(thrown(() => none.frameFlags(v)).code).toBe('ERR_INVALID_ARG_VALUE');
    const arm = new FakeMemory({ physPageSize: 64 * KiB, physHugePageSize: 512 * MiB });
    const w = arm.reserve(512 * MiB, 512 * MiB);
    expect(w % (512 * MiB)).toBe(0);
    expect(thrown(() => arm.madvise(w + 4096, 64 * KiB, 'dontneed')).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => new FakeMemory({ physHugePageSize: 3 * MiB })).code).toBe('ERR_INVALID_ARG_VALUE');
  });
});

describe('Sys', () => {
  function setup(opts: ConstructorParameters<typeof Sys>[1] = {}) {
    const mem = new FakeMemory();
    const sys = new Sys(mem, opts);
    const v = sys.sysReserve(8 * H);
    return { mem, sys, v };
  }

  it('sysReserve aligns and rounds to huge pages, and marks the reservation hg under thp=always', () => {
    const { mem, sys, v } = setup();
    expect(v % H).toBe(0);
    expect(sys.calls.reserve).toBe(1);
    expect(sys.calls.hugepage).toBe(1);
    expect(mem.framesMarked('hg', v, 8 * H)).toBe(8);
    const odd = sys.sysReserve(H + 4096);
    expect(mem.reservations().find(([a]) => a === odd)?.[1]).toBe(2 * H);

    const host = setup({ thp: 'host' });
    expect(host.sys.calls.hugepage).toBe(0);
    expect(host.mem.framesMarked('none', host.v, 8 * H)).toBe(8);
  });

  it('sysHugePage marks only the whole huge pages inside the range', () => {
    const { mem, sys, v } = setup({ thp: 'host' });
    sys.sysHugePage(v + 4096, 3 * H);
    expect(sys.calls.hugepage).toBe(1);
    expect([0, 1, 2, 3].map((i) => mem.frameFlags(v + i * H))).toEqual(['none', 'hg', 'hg', 'none']);
    sys.sysHugePage(v + 4096, H);
    expect(sys.calls.hugepage).toBe(1);
    sys.sysUsed(v, H);
    expect(sys.calls.hugepage).toBe(2);
  });

  it.each([
    ['aligned both ends', 1 * H, 2 * H, [], 0],
    ['unaligned start', 1 * H + 8192, 2 * H - 8192, ['nh', 'hg', 'hg', 'hg'], 1],
    ['unaligned end', 1 * H, H + 8192, ['hg', 'nh', 'hg', 'hg'], 1],
    ['both ends in one huge page', 1 * H + 8192, 8192, ['nh', 'hg', 'hg', 'hg'], 1],
    ['both ends in adjacent huge pages', 1 * H + 8192, H, ['nh', 'nh', 'hg', 'hg'], 1],
    ['both ends far apart', 1 * H + 8192, 2 * H, ['nh', 'hg', 'nh', 'hg'], 2],
  ] as const)('sysUnused, %s: nohugepage on edge huge pages only, then release', (_, off, n, frames, calls) => {
    const { mem, sys, v } = setup();
    sys.sysUnused(v + off, n);
    expect(sys.calls.nohugepage).toBe(calls);
    expect(sys.calls.free).toBe(1); // Go 1.13's MADV_FREE by default
    if (frames.length > 0) expect([1, 2, 3, 4].map((i) => mem.frameFlags(v + i * H))).toEqual(frames);
    else expect(mem.framesMarked('nh', v, 8 * H)).toBe(0);
  });

  it('sysUnused releases with MADV_DONTNEED when asked (Go ≥ 1.16, GODEBUG=madvdontneed=1), and skips huge-page steps without huge pages', () => {
    const { sys, v } = setup({ release: 'dontneed' });
    sys.sysUnused(v + 8192, 8192);
    expect([sys.calls.free, sys.calls.dontneed, sys.calls.nohugepage]).toEqual([0, 1, 1]);

    const flat = new Sys(new FakeMemory({ physHugePageSize: 0 }));
    const w = flat.sysReserve(10 * 4096);
    flat.sysUnused(w + 4096, 4096);
    flat.sysHugePage(w, 10 * 4096);
    expect([flat.calls.hugepage, flat.calls.nohugepage, flat.calls.free]).toEqual([0, 0, 1]);
  });

  it('edges: false releases without NOHUGEPAGE marks (a policy option, as Go 1.21)', () => {
    const { mem, sys, v } = setup({ edges: false });
    sys.sysUnused(v + H + 8192, 2 * H);
    expect([sys.calls.nohugepage, sys.calls.free]).toEqual([0, 1]);
    expect(mem.framesMarked('nh', v, 8 * H)).toBe(0);
  });

  it('times every madvise when asked, and only then', () => {
    const { sys, v } = setup();
    sys.sysUnused(v + 8192, 8192);
    expect(sys.latencies().length).toBe(0);
    sys.timed = true;
    sys.sysUnused(v + 8192, 8192);
    expect(sys.latencies().length).toBe(2);
    expect([...sys.latencies()].every((ns) => ns >= 0)).toBe(true);
  });

  it('counts every primitive; snapshotCalls is a copy; bad options are refused', () => {
    const { sys, v } = setup();
    sys.sysMap(v, H);
    sys.madvise(v, H, 'collapse');
    const before = sys.snapshotCalls();
    sys.sysFree(v);
    expect(before).toMatchObject({ reserve: 1, commit: 1, collapse: 1, unmap: 0 });
    expect(sys.snapshotCalls()).toEqual({ ...before, unmap: 1 });
    expect(thrown(() => new Sys(new FakeMemory(), { release: 'munmap' as never })).code).toBe('ERR_INVALID_ARG_VALUE');
  });
});
