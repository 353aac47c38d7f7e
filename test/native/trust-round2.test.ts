/**
 * Trust, round two (issue 21, the addon's part): each case here once crashed the process, let a
 * call reach memory its handle no longer owned, left the books and the kernel disagreeing, or
 * ran without bound. Every crashy case runs in a child, where a crash is a signal and a failed
 * assertion, not a dead test runner. Where books meet the kernel, the kernel is read back
 * (/proc/self/maps), never assumed.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { binding } from '../../src/native/binding';
import { thrown } from '../support/errors';
import { runChild, ADDON, ASAN_REASON } from '../support/child';

const PAGE = binding.pageSize();
const transferFlag = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function' ? [] : ['--harmony-rab-gsab-transfer'];
const limits = binding.limits();

// The kernel's answer for a mapping: its VMAs inside [address, address + length), as
// [offset, length, perms], from /proc/self/maps (child-side source).
const KERNEL = `
  const fs = require('node:fs');
  function kernel(h) {
    const out = [];
    for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\\n')) {
      const m = /^([0-9a-f]+)-([0-9a-f]+) (\\S+)/.exec(line); if (!m) continue;
      const s = Math.max(parseInt(m[1], 16), h.address), e = Math.min(parseInt(m[2], 16), h.address + h.length);
      if (s < e) out.push([s - h.address, e - s, m[3].slice(0, 2)]);
    }
    return out;
  }
  const settle = async (until) => { for (let i = 0; i < 200 && !until(); i++) { global.gc(); await new Promise((r) => setImmediate(r)); } };`;

describe('item 1: interval arithmetic never wraps (Region::Committed)', () => {
  it('a range past the end of the committed part is refused by every call, never read', () => {
    const r = runChild(`
      const P = ${PAGE};
      const m = binding.map(3 * P, P, false); binding.commit(m, 0, P);
      const code = (f) => { try { f(); return 'ok'; } catch (e) { return e.code; } };
      console.log(JSON.stringify({
        touch: code(() => binding.touch(m, 2 * P, P)),
        readPages: code(() => binding.readPages(m, 2 * P, P)),
        view: code(() => binding.view(m, 2 * P, P)),
        randomReads: code(() => binding.randomReads([m], new Float64Array([2 * P, P]), 10, 1)),
        mappingRandomReads: code(() => { const mm = new Mapping(3 * P); mm.commit(0, P); return Mapping.randomReads([[mm, 2 * P, P]], 10, 1); }),
        ok: binding.readPages(m, 0, P),
      }));`);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const refused = 'ERR_HUGESPAN_NOT_COMMITTED';
    expect(r.json).toEqual({ touch: refused, readPages: refused, view: refused, randomReads: refused, mappingRandomReads: refused, ok: 0 });
  });

  it('committed answers match a model of the intervals for 2 000 random queries', () => {
    // Committed pages 1, 3-4 and 7 of 9: random (offset, length) inside the mapping are asked.
    const r = runChild(`
      const P = ${PAGE};
      const m = binding.map(9 * P, P, false);
      const on = [1, 3, 4, 7];
      for (const p of on) binding.commit(m, p * P, P);
      let seed = 7;
      const rand = (n) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
      const wrong = [];
      for (let i = 0; i < 2000; i++) {
        const o = rand(9), l = 1 + rand(9 - o);
        const want = Array.from({ length: l }, (_, k) => on.includes(o + k)).every(Boolean);
        let got; try { binding.readPages(m, o * P, l * P); got = true; } catch (e) { got = e.code === 'ERR_HUGESPAN_NOT_COMMITTED' ? false : e.code; }
        if (got !== want) wrong.push([o, l, got]);
      }
      console.log(JSON.stringify({ wrong }));`);
    expect(r.stderr).toBe('');
    expect(r.json).toEqual({ wrong: [] });
  });
});

describe('item 2: no call runs JS after it has captured native state', () => {
  it('randomReads: accessor elements that unmap, remap or detach mid-call are seen before anything is read', () => {
    const r = runChild(
      `
      const P = ${PAGE};
      const code = (f) => { try { f(); return 'ok'; } catch (e) { return e.code ?? ('no code: ' + e.message); } };
      // A getter that unmaps the handle it returns.
      const a = binding.map(4 * P, P, true);
      const hs = [a]; Object.defineProperty(hs, 0, { get() { binding.unmap(a); return a; } });
      const unmapped = code(() => binding.randomReads(hs, new Float64Array([0, P]), 1000, 1));
      // A getter that unmaps a and maps c (likely at a's old address), filled with 9s.
      const b = binding.map(4 * P, P, true);
      let c;
      const hs2 = [b]; Object.defineProperty(hs2, 0, { get() { binding.unmap(b); c = binding.map(4 * P, P, true); binding.touch(c, 0, 4 * P, 9); return b; } });
      const remapped = code(() => binding.randomReads(hs2, new Float64Array([0, 4 * P]), 1000, 1));
      // A getter that detaches the ranges array.
      const d = binding.map(4 * P, P, true);
      const ranges = new Float64Array([0, P, 0, P]);
      const hs3 = [d, d]; Object.defineProperty(hs3, 1, { get() { ranges.buffer.transfer(); return d; } });
      const detached = code(() => binding.randomReads(hs3, ranges, 1000, 1));
      // A hole read through an accessor on Array.prototype, and a getter that throws.
      Object.defineProperty(Array.prototype, 0, { get() { binding.unmap(d); return d; }, configurable: true });
      const hole = code(() => binding.randomReads(new Array(1), new Float64Array([0, P]), 10, 1));
      delete Array.prototype[0];
      const e = binding.map(4 * P, P, true);
      const hs4 = [e]; Object.defineProperty(hs4, 0, { get() { throw Object.assign(new Error('mine'), { code: 'MINE' }); } });
      const throwing = code(() => binding.randomReads(hs4, new Float64Array([0, P]), 10, 1));
      // Proxies are not arrays, and a Proxy element is not a handle.
      const proxy = code(() => binding.randomReads(new Proxy([e], {}), new Float64Array([0, P]), 10, 1));
      const proxyElement = code(() => binding.randomReads([new Proxy(e, {})], new Float64Array([0, P]), 10, 1));
      const still = binding.randomReads([e], new Float64Array([0, 4 * P]), 100, 1).checksum;
      console.log(JSON.stringify({ unmapped, remapped, detached, hole, throwing, proxy, proxyElement, still, cLive: binding.live(c) }));`,
      { nodeArgs: transferFlag },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.json).toEqual({
      unmapped: 'ERR_HUGESPAN_UNMAPPED',
      remapped: 'ERR_HUGESPAN_UNMAPPED',
      detached: 'ERR_INVALID_ARG_VALUE',
      hole: 'ERR_HUGESPAN_UNMAPPED',
      throwing: 'MINE',
      proxy: 'ERR_INVALID_ARG_TYPE',
      proxyElement: 'ERR_INVALID_ARG_TYPE',
      still: 0,
      cLive: true,
    });
  });

  it('smaps fields with an accessor element: the getter runs before the file is opened, its throw comes back as is', () => {
    const fields = ['Rss'];
    Object.defineProperty(fields, 0, {
      get() {
        throw Object.assign(new Error('from the getter'), { code: 'MINE' });
      },
    });
    expect(thrown(() => binding.smaps('self', false, 0, 0, fields)).code).toBe('MINE');
    expect(thrown(() => binding.smapsStream('self', 0, 0, fields)).code).toBe('MINE');
  });
});

describe('item 3: worker.terminate() inside an addon call never ends the process', () => {
  it('36 workers looping on addon calls, terminated mid-call: the process lives and exits 0', () => {
    const loops = [
      'for (;;) b.live(m)',
      'for (;;) b.committed(m)',
      'for (;;) b.readPages(m, 0, P)',
      'for (;;) { try { b.touch({}, 0, P) } catch {} }',
      'for (;;) b.view(m, 0, P)',
      'for (;;) b.mappings()',
      'for (;;) { try { b.randomReads([m], new Float64Array([0, P]), 10, 1) } catch {} }',
      'for (;;) { const s = b.smapsStream("self"); b.smapsNext(s); b.smapsClose(s); }',
      'for (;;) new M(4 * P, { commit: true }).live',
    ];
    const r = runChild(
      `
      const { Worker } = require('node:worker_threads');
      const loops = ${JSON.stringify(loops)};
      (async () => {
        for (let i = 0; i < 36; i++) {
          const w = new Worker('const b = require(' + ${JSON.stringify(JSON.stringify(ADDON))} + '); const { Mapping: M } = require(' + ${JSON.stringify(
            JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'native', 'mapping.js')),
          )} + '); const P = b.pageSize(); const m = b.map(4 * P, P, true); require("node:worker_threads").parentPort.postMessage(1); ' + loops[i % loops.length], { eval: true });
          await new Promise((r) => w.once('message', r));
          await new Promise((r) => setTimeout(r, 2 + (i % 7)));
          await w.terminate();
        }
        console.log(JSON.stringify({ survived: 36 }));
      })();`,
      { timeout: 120000 },
    );
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.json).toEqual({ survived: 36 });
  });
});

describe('item 5: every call returns in bounded time', () => {
  it(`touch and readPages walk at most ${limits.maxTouch} bytes a call (limits().maxTouch), refused with a coded RangeError beyond`, () => {
    expect(limits.maxTouch).toBe(2 ** 20 * PAGE);
    const m = binding.map(limits.maxTouch + PAGE, PAGE, true); // address space only (MAP_NORESERVE)
    for (const call of [() => binding.touch(m, 0, limits.maxTouch + PAGE), () => binding.readPages(m, 0, limits.maxTouch + PAGE)]) {
      const e = thrown(call);
      expect([e.name, e.code]).toEqual(['RangeError', 'ERR_OUT_OF_RANGE']);
    }
    expect(binding.readPages(m, 0, 16 * PAGE)).toBe(0);
    binding.unmap(m);
  });

  it('map refuses more address space than the kernel can give a process (limits().maxMap), before any syscall', () => {
    expect(limits.maxMap).toBeGreaterThanOrEqual(2 ** 46);
    expect(limits.maxMap).toBeLessThanOrEqual(2 ** 57);
    const before = binding.counters().mapped;
    for (const len of [limits.maxMap + PAGE, 2 ** 53 - PAGE]) {
      const e = thrown(() => binding.map(len, PAGE, false));
      expect([e.name, e.code]).toEqual(['RangeError', 'ERR_OUT_OF_RANGE']);
    }
    // With its alignment the span is what counts: maxMap itself at 1 GiB alignment does not fit.
    expect(thrown(() => binding.map(limits.maxMap, 2 ** 30, false)).code).toBe('ERR_OUT_OF_RANGE');
    expect(binding.counters().mapped).toBe(before);
  });

  it('thpRanges over a whole address space returns in seconds; over more mapped bytes than its bound it is refused', () => {
    // Only the mapped parts are read: an answer (null where frame numbers are hidden), or, where
    // the process maps more than the bound (ASan's shadow is ~20 TiB), a coded refusal.
    const t0 = Date.now();
    let whole: unknown;
    try {
      whole = binding.thpRanges('self', new Float64Array([0, 2 ** 47]));
    } catch (e) {
      whole = (e as { code?: string }).code;
    }
    expect(whole === null || whole === 'ERR_OUT_OF_RANGE' || Object.prototype.toString.call(whole) === '[object Float64Array]').toBe(true);
    expect(Date.now() - t0).toBeLessThan(20000);
    const big = binding.map(limits.maxThpRangeBytes + PAGE, PAGE, false); // PROT_NONE address space only
    const e = thrown(() => binding.thpRanges('self', new Float64Array([big.address, big.address + big.length])));
    expect([e.name, e.code]).toEqual(['RangeError', 'ERR_OUT_OF_RANGE']);
    binding.unmap(big);
  });

  it(`at most ${limits.maxStreams} smaps streams live at once; a closed one frees its place`, () => {
    const r = runChild(`
      const threads = () => Number(/Threads:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]);
      const open = [], base = threads();
      let code;
      for (let i = 0; i <= ${limits.maxStreams}; i++) { try { open.push(binding.smapsStream('self')); } catch (e) { code = e.code; } }
      const most = threads() - base;
      binding.smapsClose(open.pop());
      let reopened; try { open.push(binding.smapsStream('self')); reopened = true; } catch (e) { reopened = e.code; }
      for (const s of open) binding.smapsClose(s);
      console.log(JSON.stringify({ count: open.length, code, reopened, most, after: threads() - base }));`);
    expect(r.stderr).toBe('');
    const { most, ...rest } = r.json;
    expect(rest).toEqual({ count: limits.maxStreams, code: 'ERR_HUGESPAN_TOO_MANY_STREAMS', reopened: true, after: 0 });
    expect(most).toBeLessThanOrEqual(limits.maxStreams); // a stream whose read is done has no thread left
  });

  const DROPPED = ASAN_REASON ? 400 : 4000; // under ASan each stream's read is ~10x slower
  it(`${DROPPED} dropped smaps streams never hold more threads than the bound: the collector closes them`, () => {
    const r = runChild(
      `
      const threads = () => Number(/Threads:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]);
      const base = threads();
      let most = 0, refused = 0;
      (async () => {
        for (let i = 0; i < ${DROPPED}; i++) {
          try { binding.smapsNext(binding.smapsStream('self')); } catch (e) { if (e.code !== 'ERR_HUGESPAN_TOO_MANY_STREAMS') throw e; refused++; }
          most = Math.max(most, threads() - base);
          if (i % 16 === 15) { global.gc(); await new Promise((r) => setImmediate(r)); }
        }
        console.log(JSON.stringify({ most, refused }));
      })();`,
      { nodeArgs: ['--expose-gc'], timeout: 120000 },
    );
    expect(r.stderr).toBe('');
    expect(r.json.most).toBeLessThanOrEqual(limits.maxStreams + 8);
    expect(r.json.refused).toBe(0); // collected (and closed) faster than 16 a turn are opened
  });
});

describe('items 6 and 7: a view collected but not yet finalized holds nothing; books == kernel at once', () => {
  it('unmap() after a view was dropped and collected: the pages are gone from /proc/self/maps', () => {
    const r = runChild(
      `${KERNEL}
      const m = binding.map(64 << 20, ${PAGE}, true);
      (() => binding.view(m, 0, 64 << 20).fill(1))();
      global.gc();
      binding.unmap(m);
      console.log(JSON.stringify({ kernel: kernel(m).filter(([, , p]) => p === 'rw'), keeping: binding.counters().keeping, live: binding.live(m) }));`,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(r.stderr).toBe('');
    expect(r.json).toEqual({ kernel: [], keeping: 0, live: false });
  });

  it('decommit() after a view was dropped and collected: its page loses access at once', () => {
    const r = runChild(
      `${KERNEL}
      const P = ${PAGE};
      const m = binding.map(4 * P, P, true);
      (() => { binding.view(m, P, P)[0] = 1; })();
      global.gc();
      binding.decommit(m, 0, 4 * P);
      console.log(JSON.stringify({ books: binding.committed(m), kernel: kernel(m) }));`,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(r.stderr).toBe('');
    expect(r.json).toEqual({ books: [], kernel: [[0, 4 * PAGE, '--']] });
  });

  it('pages kept for a transferred view are given back when that buffer is collected, while the handle lives', () => {
    const r = runChild(
      `${KERNEL}
      const P = ${PAGE};
      const m = binding.map(16 * P, P, true), n = binding.map(4 * P, P, true);
      let moved = binding.view(m, 4 * P, 2 * P).buffer.transfer(); new Uint8Array(moved)[0] = 5;
      binding.unmap(m);
      let moved2 = binding.view(n, P, P).buffer.transfer(); new Uint8Array(moved2)[0] = 6;
      binding.decommit(n, 0, 4 * P);
      const during = { kept: kernel(m).filter(([, , p]) => p === 'rw'), keeping: binding.counters().keeping, decommitted: kernel(n), read: new Uint8Array(moved)[0] + new Uint8Array(moved2)[0] };
      moved = null; moved2 = null;
      (async () => {
        await settle(() => binding.counters().keeping === 0 && kernel(n).every(([, , p]) => p !== 'rw'));
        console.log(JSON.stringify({ during, after: { kept: kernel(m).filter(([, , p]) => p === 'rw'), keeping: binding.counters().keeping, decommitted: kernel(n) }, live: [binding.live(m), binding.live(n)] }));
      })();`,
      { nodeArgs: [...transferFlag, '--expose-gc'] },
    );
    expect(r.stderr).toBe('');
    // Under ASan its allocator maps its own memory where ours was: "no VMA there" means nothing.
    if (ASAN_REASON) r.json.after.kept = [];
    expect(r.json).toEqual({
      during: {
        kept: [[4 * PAGE, 2 * PAGE, 'rw']],
        keeping: 1,
        decommitted: [
          [0, PAGE, '--'],
          [PAGE, PAGE, 'rw'],
          [2 * PAGE, 2 * PAGE, '--'],
        ],
        read: 5, // decommit drops the pages under a transferred view too (they read 0), never their access
      },
      after: { kept: [], keeping: 0, decommitted: [[0, 4 * PAGE, '--']] },
      live: [false, true],
    });
  });

  it(`more than ${limits.maxPinnedViews} dropped views of one mapping: unmap leaves no page mapped once they are finalized`, () => {
    const r = runChild(
      `${KERNEL}
      const P = ${PAGE};
      const m = binding.map(8 * P, P, true);
      for (let i = 0; i < ${(limits.maxPinnedViews ?? 1024) + 200}; i++) binding.view(m, (i % 8) * P, P)[0] = 1;
      global.gc();
      binding.unmap(m);
      (async () => {
        await settle(() => binding.counters().keeping === 0);
        console.log(JSON.stringify({ kernel: kernel(m).filter(([, , p]) => p === 'rw'), keeping: binding.counters().keeping }));
      })();`,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(r.stderr).toBe('');
    expect(r.json).toEqual({ kernel: [], keeping: 0 });
  });
  it(`in a worker, views past the ${limits.maxPinnedViews} a handle holds detach the oldest (never left to the collector); on the main thread they stay`, () => {
    const N = (limits.maxPinnedViews ?? 1024) + 76;
    const make = `const b = require(${JSON.stringify(ADDON)}); const P = b.pageSize(); const m = b.map(8 * P, P, true);
      const views = []; for (let i = 0; i < ${N}; i++) { const v = b.view(m, (i % 8) * P, P); v[0] = 1; views.push(v); }
      const lengths = views.map((v) => v.length);
      const r = { detached: lengths.filter((l) => l === 0).length, firstAttached: lengths.indexOf(P), newest: lengths.slice(-${limits.maxPinnedViews ?? 1024}).every((l) => l === P) };`;
    const r = runChild(
      `const { Worker } = require('node:worker_threads');
      ${make}
      const main = r;
      const w = new Worker(${JSON.stringify(make + ' require("node:worker_threads").parentPort.postMessage(r);')}, { eval: true });
      w.once('message', (worker) => { console.log(JSON.stringify({ main, worker })); w.terminate(); });`,
    );
    expect(r.stderr).toBe('');
    expect(r.json).toEqual({ main: { detached: 0, firstAttached: 0, newest: true }, worker: { detached: 76, firstAttached: 76, newest: true } });
  });

  it('a handle whose view holder was emptied or that was frozen: dropped views are then kept safely, and given back once finalized', () => {
    const r = runChild(
      `${KERNEL}
      const P = ${PAGE};
      const a = binding.map(8 * P, P, true), b = binding.map(8 * P, P, true);
      Object.freeze(b); // the holder cannot be added: b's views are never pinned
      (() => { binding.view(a, 0, 4 * P)[0] = 1; binding.view(b, 0, 4 * P)[0] = 1; })();
      const sym = Object.getOwnPropertySymbols(a)[0];
      a[sym].length = 0; // reached in by hand: a's view is no longer held either
      global.gc();
      binding.unmap(a); binding.unmap(b);
      (async () => {
        await settle(() => binding.counters().keeping === 0);
        console.log(JSON.stringify({ symbols: Object.getOwnPropertySymbols(b).length, keeping: binding.counters().keeping, a: kernel(a).filter(([, , p]) => p === 'rw'), b: kernel(b).filter(([, , p]) => p === 'rw') }));
      })();`,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(r.stderr).toBe('');
    if (ASAN_REASON) Object.assign(r.json, { a: [], b: [] });
    expect(r.json).toEqual({ symbols: 0, keeping: 0, a: [], b: [] });
  });
});

describe('item 8: an exited worker orphans only what really left its thread', () => {
  const run = (): ReturnType<typeof runChild> =>
    runChild(
      `
      const { Worker } = require('node:worker_threads');
      const rssAnon = () => Number(/RssAnon:\\s+(\\d+)/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      (async () => {
        const before = rssAnon();
        for (let i = 0; i < 20; i++) {
          const w = new Worker('const { Mapping } = require(' + ${JSON.stringify(JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'native', 'mapping.js')))} + '); new Mapping(8 << 20, { commit: true }).view().fill(1);', { eval: true });
          await new Promise((r) => w.on('exit', r));
        }
        const c = binding.counters();
        console.log(JSON.stringify({ grewMiB: (rssAnon() - before) / 2 ** 20, ...c }));
      })();`,
      { timeout: 120000 },
    );
  it('20 workers each leaving a committed 8 MiB mapping with a view: nothing orphaned, every region unmapped', () => {
    const r = run();
    expect(r.stderr).toBe('');
    const { grewMiB, ...counters } = r.json;
    expect(counters).toEqual({ mapped: 20, unmapped: 20, keeping: 0, orphaned: 0 });
    if (!ASAN_REASON) expect(grewMiB).toBeLessThan(64); // was ~164 MiB: 20 x 8 MiB never unmapped
  });
});

describe('item 11: a smaps stream is tagged per copy of the addon, as handles are', () => {
  it("another copy's stream is refused, and ours by it; each reads its own", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-copy-'));
    try {
      const copy = path.join(dir, 'hugespan-copy.node');
      fs.copyFileSync(ADDON, copy);
      const other = require(copy) as typeof binding;
      expect(other).not.toBe(binding);
      const theirs = other.smapsStream('self');
      const mine = binding.smapsStream('self');
      expect(thrown(() => binding.smapsNext(theirs)).code).toBe('ERR_INVALID_ARG_TYPE');
      expect(thrown(() => binding.smapsClose(theirs)).code).toBe('ERR_INVALID_ARG_TYPE');
      expect(thrown(() => other.smapsNext(mine)).code).toBe('ERR_INVALID_ARG_TYPE');
      expect(other.smapsNext(theirs).count).toBeGreaterThan(0);
      expect(binding.smapsNext(mine).count).toBeGreaterThan(0);
      other.smapsClose(theirs);
      binding.smapsClose(mine);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
