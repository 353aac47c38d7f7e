/**
 * The raw-memory API can never hurt the process: each case here once crashed it or let one
 * mapping reach another's memory (issue "Trust"), and runs in a child where a crash would
 * show as a signal, not as a dead test runner. Handles are capabilities: a range is checked
 * against the handle's own region, a dead handle reaches nothing, a forged or foreign one is
 * refused; the books never claim more access than the kernel gives, even when a syscall
 * fails half-way.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Mapping } from '../../src/native/mapping';
import { binding } from '../../src/native/binding';
import { LinuxMemory } from '../../src/sys/linux';
import { coverage } from '../../src/native/coverage';
import { thrown } from '../support/errors';
import { itUnless } from '../support/thp';
import { runChild, ADDON } from '../support/child';

const PAGE = binding.pageSize();
const transferFlag = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function' ? [] : ['--harmony-rab-gsab-transfer'];

const skipWith = (reason: string, name: string): void => itUnless(reason, name, () => undefined);

describe('handles are capabilities', () => {
  it('a stale handle reaches nothing, not the next mapping the kernel puts at its address', () => {
    const a = new Mapping(16 * PAGE, { commit: true });
    const at = a.address;
    a.unmap();
    // The kernel hands the freed range out again at once (top-down, first fit); try a few.
    const others: Mapping[] = [];
    let b: Mapping | undefined;
    for (let i = 0; i < 16 && !b; i++) {
      const m = new Mapping(16 * PAGE, { commit: true });
      if (m.address === at) b = m;
      else others.push(m);
    }
    for (const m of others) m.unmap();
    const target = b ?? new Mapping(16 * PAGE, { commit: true });
    target.touch(0, 16 * PAGE, 9);
    expect(thrown(() => a.advise('dontneed')).code).toBe('ERR_HUGESPAN_UNMAPPED');
    expect(thrown(() => a.decommit()).code).toBe('ERR_HUGESPAN_UNMAPPED');
    expect(thrown(() => a.commit()).code).toBe('ERR_HUGESPAN_UNMAPPED');
    expect(thrown(() => a.touch()).code).toBe('ERR_HUGESPAN_UNMAPPED');
    expect(thrown(() => a.view()).code).toBe('ERR_HUGESPAN_UNMAPPED');
    expect(thrown(() => a.unmap()).code).toBe('ERR_HUGESPAN_UNMAPPED');
    expect(a.live).toBe(false);
    expect(a.committed).toEqual([]);
    expect(target.readPages()).toBe(16 * 9);
    expect(target.committed).toEqual([[0, 16 * PAGE]]);
    target.unmap();
  });

  it('offset + length past its own end is refused, whatever lies next to it', () => {
    const a = new Mapping(4 * PAGE, { commit: true });
    const b = new Mapping(4 * PAGE, { commit: true });
    b.touch(0, 4 * PAGE, 3);
    a.touch(0, 4 * PAGE, 3);
    for (const call of [
      () => a.advise('dontneed', a.length, PAGE),
      () => a.advise('dontneed', 0, a.length + PAGE),
      () => a.decommit(a.length - PAGE, 2 * PAGE),
      () => a.touch(Math.max(a.length, b.address - a.address), PAGE),
      () => a.view(0, 2 * a.length),
    ]) {
      expect(thrown(call).code).toBe('ERR_OUT_OF_RANGE');
    }
    expect([a.readPages(), b.readPages()]).toEqual([12, 12]);
    a.unmap();
    b.unmap();
  });

  it("another copy of the addon (another hugespan in the process) cannot use this copy's handles", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-copy-'));
    try {
      const copy = path.join(dir, 'hugespan-copy.node');
      fs.copyFileSync(ADDON, copy);
      const other = require(copy) as typeof binding;
      expect(other).not.toBe(binding);
      const mine = binding.map(4 * PAGE, PAGE, true);
      const theirs = other.map(4 * PAGE, PAGE, true);
      binding.touch(mine, 0, 4 * PAGE, 5);
      expect(thrown(() => other.madvise(mine, 0, PAGE, 'dontneed')).code).toBe('ERR_INVALID_ARG_TYPE');
      expect(thrown(() => other.unmap(mine)).code).toBe('ERR_INVALID_ARG_TYPE');
      expect(thrown(() => binding.touch(theirs, 0, PAGE)).code).toBe('ERR_INVALID_ARG_TYPE');
      expect(binding.readPages(mine, 0, 4 * PAGE)).toBe(20);
      binding.unmap(mine);
      other.unmap(theirs);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('every thrown error carries a code', () => {
  const cases: [string, () => unknown, string][] = [
    ['new Mapping(4096, null)', () => new Mapping(4096, null as any), 'ERR_INVALID_ARG_TYPE'],
    ["new Mapping(4096, { align: 'huge' })", () => new Mapping(4096, { align: 'huge' as any }), 'ERR_INVALID_ARG_TYPE'],
    ['new LinuxMemory().randomReads({}, 1)', () => new LinuxMemory().randomReads({} as any, 1), 'ERR_INVALID_ARG_TYPE'],
    ['new LinuxMemory().commit(Symbol(), 4096)', () => new LinuxMemory().commit(Symbol() as any, 4096), 'ERR_INVALID_ARG_TYPE'],
    ['new LinuxMemory().madvise(4096, Symbol(), ...)', () => new LinuxMemory().madvise(4096, Symbol() as any, 'hugepage'), 'ERR_INVALID_ARG_TYPE'],
    ['new LinuxMemory().unmap(4096)', () => new LinuxMemory().unmap(4096), 'ERR_HUGESPAN_NOT_OWNED'],
    ['Mapping.randomReads([[{}, 0, 4096]], 1)', () => Mapping.randomReads([[{} as any, 0, 4096]], 1), 'ERR_INVALID_ARG_TYPE'],
    // coverage() checks its arguments once, before whichever reader (PAGEMAP_SCAN or smaps) runs.
    ["coverage('self', 'x', 'y')", () => coverage('self', 'x' as any, 'y' as any), 'ERR_INVALID_ARG_TYPE'],
    ["coverage('self', -4096, 4096)", () => coverage('self', -4096, 4096), 'ERR_INVALID_ARG_VALUE'],
    ["coverage('self', 4096, 2 ** 64)", () => coverage('self', 4096, 2 ** 64), 'ERR_INVALID_ARG_VALUE'],
    ["coverage('self', 8192, 4096)", () => coverage('self', 8192, 4096), 'ERR_INVALID_ARG_VALUE'],
    ["coverage('self', NaN, 4096)", () => coverage('self', NaN, 4096), 'ERR_INVALID_ARG_VALUE'],
    ["coverage('self', 1, 4096)", () => coverage('self', 1, 4096), 'ERR_INVALID_ARG_VALUE'],
    ["coverage('me', 0, 4096)", () => coverage('me' as any, 0, 4096), 'ERR_INVALID_ARG_TYPE'],
    ['coverage(-1, 0, 4096)', () => coverage(-1, 0, 4096), 'ERR_INVALID_ARG_VALUE'],
  ];
  it.each(cases)('%s', (_name, call, code) => {
    const e = thrown(call);
    expect(e.code).toBe(code);
    expect(['TypeError', 'RangeError']).toContain(e.name);
  });
});

describe('crashes that were reachable from JS (each in a child: a crash is a signal there)', () => {
  const maxView = binding.limits().maxView;
  if (maxView > 2 ** 46) {
    skipWith(`this runtime's buffers reach ${maxView} bytes, more address space than a mapping can have`, 'a view longer than the runtime allows is refused before anything is made');
  } else {
    it('a view longer than the runtime allows is refused before anything is made', () => {
      const r = runChild(`
        const m = binding.map(${maxView + PAGE}, ${PAGE}, true);
        let code; try { binding.view(m, 0, ${maxView + PAGE}); } catch (e) { code = e.code; }
        const ok = binding.view(m, 0, ${PAGE}); ok[0] = 1;
        console.log(JSON.stringify({ code, views: binding.mappings()[0].views, read: ok[0] }));`);
      expect(r.status).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.json).toEqual({ code: 'ERR_INVALID_ARG_VALUE', views: 1, read: 1 });
    });
  }

  it('randomReads: lengths that add up past 2^64 are refused (no wrap to 0, no SIGFPE); the work a call may ask for is bounded', () => {
    const r = runChild(`
      const big = binding.map(2 ** 45, ${PAGE}, true); // address space only: MAP_NORESERVE, never touched
      const n = 2 ** 19, hs = new Array(n).fill(big), ranges = new Float64Array(2 * n);
      for (let i = 0; i < n; i++) ranges[2 * i + 1] = 2 ** 45;
      let sum; try { binding.randomReads(hs, ranges, 1, 1); } catch (e) { sum = e.code; }
      let count; try { binding.randomReads([big], new Float64Array([0, ${PAGE}]), 2 ** 53 - 1, 1); } catch (e) { count = e.code; }
      const small = binding.map(${4 * PAGE}, ${PAGE}, true); binding.touch(small, 0, ${4 * PAGE}, 1);
      const ok = binding.randomReads([small, small], new Float64Array([0, ${PAGE}, ${2 * PAGE}, ${2 * PAGE}]), 1000, 7).reads;
      console.log(JSON.stringify({ sum, count, ok, limit: binding.limits().maxReads }));`);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.json).toEqual({ sum: 'ERR_OUT_OF_RANGE', count: 'ERR_OUT_OF_RANGE', ok: 1000, limit: 2 ** 28 });
  });

  it('randomReads spreads reads evenly over the bytes of its ranges (the O(1) pick is unbiased)', () => {
    // A page of zeros and three pages whose every 8-byte word is 1: the checksum counts the
    // reads that landed in the second, which should be 3/4 of them within 6 standard deviations.
    const a = binding.map(PAGE, PAGE, true);
    const b = binding.map(3 * PAGE, PAGE, true);
    const words = binding.view(b, 0, 3 * PAGE);
    for (let i = 0; i < words.length; i += 8) words[i] = 1;
    const N = 200000;
    const { checksum, reads } = binding.randomReads([a, b], new Float64Array([0, PAGE, 0, 3 * PAGE]), N, 3);
    expect(reads).toBe(N);
    expect(Math.abs(checksum - 0.75 * N)).toBeLessThan(6 * Math.sqrt(N * 0.75 * 0.25));
    binding.unmap(a);
    binding.unmap(b);
  });

  it("a transferred view moved out of a worker stays readable on the main thread after the worker exits", () => {
    const r = runChild(
      `
      const { Worker } = require('node:worker_threads');
      const w = new Worker(\`
        const b = require(${JSON.stringify(ADDON)});
        const m = b.map(${16 * PAGE}, ${PAGE}, true);
        b.touch(m, 0, ${16 * PAGE}, 7);
        const moved = b.view(m, ${4 * PAGE}, ${4 * PAGE}).buffer.transfer();
        require('node:worker_threads').parentPort.postMessage(moved, [moved]);\`, { eval: true });
      let got;
      w.on('message', (m) => (got = m));
      w.on('exit', () => setTimeout(() => {
        global.gc && global.gc();
        const v = new Uint8Array(got); let sum = 0; for (let i = 0; i < v.length; i += ${PAGE}) sum += v[i]; v[1] = 3;
        console.log(JSON.stringify({ length: v.length, sum, orphaned: binding.counters().orphaned }));
      }, 50));`,
      { nodeArgs: [...transferFlag, '--expose-gc'] },
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.json).toEqual({ length: 4 * PAGE, sum: 4 * 7, orphaned: 4 * PAGE });
  });
});

// A process at vm.max_map_count: any syscall that must split a VMA fails with ENOMEM, and
// mprotect, which is not atomic across VMAs, may already have changed the VMAs before it.
const maxMapCount = Number(fs.readFileSync('/proc/sys/vm/max_map_count', 'utf8'));
const FILL = `
  const fs = require('node:fs');
  const P = ${PAGE};
  // One VMA per page, alternating advice so that no two merge, until the kernel refuses a split.
  function fillMapCount() {
    const filler = binding.map((${maxMapCount} + 64) * P, P, false);
    for (let i = 0; ; i++) {
      try { binding.madvise(filler, i * P, P, i % 2 ? 'hugepage' : 'nohugepage'); }
      catch (e) { if (e.code !== 'ENOMEM' && e.code !== 'EAGAIN') throw e; return { filler, at: i }; }
    }
  }
  // The read/write pages of a mapping by the kernel's own /proc/self/maps, as [offset, length].
  function kernelRW(h) {
    const out = [];
    for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\\S+)/.exec(line); if (!m) continue;
      const s = Math.max(parseInt(m[1], 16), h.address), e = Math.min(parseInt(m[2], 16), h.address + h.length);
      if (s >= e || !m[3].startsWith('rw')) continue;
      const last = out[out.length - 1];
      if (last && last[0] + last[1] === s - h.address) last[1] += e - s; else out.push([s - h.address, e - s]);
    }
    return out;
  }`;

describe(`syscalls that fail half-way (in a child at vm.max_map_count = ${maxMapCount})`, () => {
  if (maxMapCount > 1 << 20) {
    skipWith(`vm.max_map_count is ${maxMapCount}: filling it would take minutes`, 'a decommit whose mprotect fails part-way leaves books that claim no access the kernel took away');
    return;
  }
  it('a decommit whose mprotect fails part-way leaves books that claim no access the kernel took away', () => {
    const r = runChild(
      `${FILL}
      // A [0,2) read/write, B [2,4) no access, C [4,8) read/write; A and C advised hugepage, B
      // nohugepage, so no change can merge them: decommit [0,6) changes A, then must split C.
      const m = binding.map(8 * P, P, true);
      binding.touch(m, 0, 8 * P, 4);
      binding.decommit(m, 2 * P, 2 * P);
      binding.madvise(m, 0, 2 * P, 'hugepage'); binding.madvise(m, 2 * P, 2 * P, 'nohugepage'); binding.madvise(m, 4 * P, 4 * P, 'hugepage');
      const v = binding.view(m, 0, P);
      const { filler } = fillMapCount();
      // At the limit even V8 may fail to allocate: give the map count back before anything else.
      let code; try { binding.decommit(m, 0, 6 * P); } catch (e) { binding.unmap(filler); code = e.code; }
      const books = binding.committed(m);
      // Every page the books call committed can be touched; a page they do not is refused.
      let touched = 0; for (const [o, l] of books) { binding.touch(m, o, l, 1); touched += l; }
      let refused; try { binding.touch(m, 0, P); } catch (e) { refused = e.code; }
      const kernel = kernelRW(m);
      console.log(JSON.stringify({ code, books, kernel, touched, refused, viewLength: v.length }));`,
      { timeout: 120000 },
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const out = r.json;
    expect(out.code).toBe('ENOMEM');
    expect(out.books).toEqual(out.kernel); // re-derived from the kernel, not guessed
    expect(out.books).toEqual([[4 * PAGE, 4 * PAGE]]); // A lost access, C kept it
    expect(out.refused).toBe('ERR_HUGESPAN_NOT_COMMITTED');
    expect(out.viewLength).toBe(0); // the view over A was detached before its pages lost access
  });

  it('an unmap the kernel refuses changes nothing: the mapping stays live and whole, and a later unmap succeeds', () => {
    const r = runChild(
      `${FILL}
      const m = binding.map(8 * P, P, true);
      binding.touch(m, 0, 8 * P, 2);
      // Escaped views over [0,2) and [6,8) must stay mapped, so unmap must take [2,6) out of the
      // middle of one VMA: the one munmap the kernel refuses at the limit (it would add a VMA).
      const moved = binding.view(m, 0, 2 * P).buffer.transfer();
      const moved2 = binding.view(m, 6 * P, 2 * P).buffer.transfer();
      const { filler } = fillMapCount();
      // At the limit even V8 may fail to allocate: give the map count back before anything else.
      let code; try { binding.unmap(m); } catch (e) { binding.unmap(filler); code = e.code; }
      const live = binding.live(m), books = binding.committed(m), sum = binding.readPages(m, 0, 8 * P);
      const kernel = kernelRW(m);
      binding.unmap(m);
      const after = { live: binding.live(m), keeping: binding.counters().keeping, moved: new Uint8Array(moved)[0] + new Uint8Array(moved2)[0] };
      console.log(JSON.stringify({ code, live, books, kernel, sum, after }));`,
      { timeout: 120000, nodeArgs: transferFlag },
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.json).toEqual({
      code: 'ENOMEM',
      live: true,
      books: [[0, 8 * PAGE]],
      kernel: [[0, 8 * PAGE]],
      sum: 16,
      after: { live: false, keeping: 1, moved: 4 },
    });
  });
});
