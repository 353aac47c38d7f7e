/**
 * Who owns memory and for how long: views detach when access goes away, the collector unmaps
 * exactly once, a view keeps its memory alive, each thread owns only its own mappings, and a
 * worker's leftovers are unmapped when it exits.
 */
import { Worker } from 'node:worker_threads';
import { Mapping, mappings } from '../../src/native/mapping';
import { readSmaps, vmaAt } from '../../src/native/smaps';
import { binding } from '../../src/native/binding';
import { thrown } from '../support/errors';
import { runChild, ADDON, ASAN_REASON } from '../support/child';

const PAGE = binding.pageSize();

describe('views', () => {
  it('detach on unmap: an old view is empty, not a segfault', () => {
    const m = new Mapping(16 * PAGE, { commit: true });
    const v = m.view();
    v[100] = 42;
    expect(v[100]).toBe(42);
    m.unmap();
    expect(v.length).toBe(0);
    expect(v.byteLength).toBe(0);
    expect(v[100]).toBeUndefined();
    v[100] = 1; // a write to a detached view is a no-op
    expect(vmaAt(readSmaps(), m.address)?.start === m.address).toBe(false);
  });

  it('detach on decommit of an overlapping range only', () => {
    const m = new Mapping(16 * PAGE, { commit: true });
    const low = m.view(0, 4 * PAGE);
    const high = m.view(8 * PAGE, 4 * PAGE);
    m.decommit(2 * PAGE, 2 * PAGE);
    expect(m.committed).toEqual([
      [0, 2 * PAGE],
      [4 * PAGE, 12 * PAGE],
    ]);
    expect(low.length).toBe(0);
    expect(high.length).toBe(4 * PAGE);
    high[0] = 9;
    expect(thrown(() => m.view(2 * PAGE, PAGE)).code).toBe('ERR_HUGESPAN_NOT_COMMITTED');
    m.commit(2 * PAGE, 2 * PAGE);
    expect(m.view(2 * PAGE, PAGE)[0]).toBe(0); // decommitted memory comes back zeroed
    m.unmap();
    expect(high.length).toBe(0);
  });

  it('sent to a worker is copied, never shared: the copy outlives the unmap', async () => {
    const m = new Mapping(PAGE, { commit: true });
    const v = m.view();
    v[0] = 77;
    const w = new Worker(`require('node:worker_threads').parentPort.once('message', (b) => require('node:worker_threads').parentPort.postMessage(new Uint8Array(b)[0]))`, { eval: true });
    const answer = new Promise((resolve) => w.once('message', resolve));
    w.postMessage(v.buffer, [v.buffer as ArrayBuffer]);
    m.unmap();
    expect(await answer).toBe(77);
    await w.terminate();
  });
});

describe('a view whose ArrayBuffer was transferred (ArrayBuffer.prototype.transfer)', () => {
  // Node 20 has transfer() behind a V8 flag; later versions have it by default.
  const flag = typeof (ArrayBuffer.prototype as { transfer?: unknown }).transfer === 'function' ? [] : ['--harmony-rab-gsab-transfer'];

  it('cannot be detached, so unmap and decommit leave its pages mapped and writable, never a fault', () => {
    const r = runChild(
      `
      const P = ${PAGE};
      const m = binding.map(16 * P, P, true);
      const v = binding.view(m, 4 * P, 2 * P); v[0] = 42;
      const moved = v.buffer.transfer();
      binding.unmap(m);
      const a = new Uint8Array(moved); const afterUnmap = a[0]; a[1] = 7;
      const stillMapped = readSmaps().some((x) => x.start <= m.address + 4 * P && m.address + 4 * P < x.end);
      const keeping = binding.counters().keeping;
      const m2 = binding.map(16 * P, P, true);
      const w = binding.view(m2, 0, 8 * P); w[0] = 9;
      const moved2 = w.buffer.transfer();
      binding.decommit(m2, 0, 16 * P);
      const b2 = new Uint8Array(moved2); const afterDecommit = b2[0]; b2[5] = 1;
      let touch; try { binding.touch(m2, 0, P); } catch (e) { touch = e.code; }
      console.log(JSON.stringify({ afterUnmap, stillMapped, keeping, afterDecommit, touch }));`,
      { nodeArgs: flag },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.json).toEqual({ afterUnmap: 42, stillMapped: true, keeping: 1, afterDecommit: 0, touch: 'ERR_HUGESPAN_NOT_COMMITTED' });
  });

  it('the pages kept for it are unmapped once the transferred buffer is collected, not before', () => {
    const r = runChild(
      `
      const P = ${PAGE};
      let m = binding.map(16 * P, P, true);
      let moved = binding.view(m, 4 * P, 2 * P).buffer.transfer();
      new Uint8Array(moved)[0] = 5;
      binding.unmap(m);
      m = null; // the handle and the original buffer go; the transferred one stays
      const settle = async () => { for (let i = 0; i < 20; i++) { global.gc(); await new Promise((r) => setImmediate(r)); } };
      (async () => {
        await settle();
        const whileAlive = { keeping: binding.counters().keeping, read: new Uint8Array(moved)[0] };
        moved = null;
        for (let i = 0; i < 100 && binding.counters().keeping > 0; i++) { global.gc(); await new Promise((r) => setImmediate(r)); }
        console.log(JSON.stringify({ whileAlive, keepingAfter: binding.counters().keeping }));
      })();`,
      { nodeArgs: [...flag, '--expose-gc'] },
    );
    expect(r.stderr).toBe('');
    expect(r.json).toEqual({ whileAlive: { keeping: 1, read: 5 }, keepingAfter: 0 });
  });
});

describe('the garbage collector', () => {
  it('unmaps 2000 dropped mappings exactly once, and a live view keeps its memory mapped', () => {
    const r = runChild(
      `
      const N = 2000, addrs = [];
      for (let i = 0; i < N; i++) { const m = binding.map(${PAGE} * 4, ${PAGE}, true); binding.touch(m, 0, ${PAGE} * 4); binding.view(m, 0, ${PAGE}); addrs.push(m.address); }
      let keep = binding.map(${PAGE} * 4, ${PAGE}, true); const kept = keep.address; const view = binding.view(keep, 0, ${PAGE}); view[0] = 5; keep = null;
      const ours = () => { const set = new Set(addrs); let n = 0; for (const v of readSmaps()) for (const a of set) if (a >= v.start && a < v.end) n++; return n; };
      const before = ours();
      (async () => {
        // Finalizers run in batches as the event loop turns: collect until none is left (bounded).
        for (let i = 0; i < 100 && binding.counters().mapped - binding.counters().unmapped > 1; i++) { global.gc(); await new Promise((r) => setImmediate(r)); }
        const after = ours();
        const keptAlive = readSmaps().some((v) => kept >= v.start && kept < v.end) && view[0] === 5;
        const c = binding.counters();
        console.log(JSON.stringify({ before, after, left: binding.mappings().length, keptAlive, stillMapped: c.mapped - c.unmapped }));
      })();`,
      { nodeArgs: ['--expose-gc'] },
    );
    expect(r.stderr).toBe('');
    // Exactly once: 2001 mapped, 2000 unmapped, and the one with a live view still mapped.
    expect({ left: r.json.left, keptAlive: r.json.keptAlive, stillMapped: r.json.stillMapped }).toEqual({ left: 1, keptAlive: true, stillMapped: 1 });
    expect(r.json.before).toBe(2000);
    // (The 2000 old addresses are not checked for VMAs: malloc and V8 reuse freed ranges at once.)
  });
});

describe('threads', () => {
  function inWorker(code: string, data: unknown): Promise<any> {
    return new Promise((resolve, reject) => {
      const w = new Worker(`const binding = require(${JSON.stringify(ADDON)}); const { parentPort, workerData } = require('node:worker_threads');\n${code}`, {
        eval: true,
        workerData: data,
      });
      let msg: unknown;
      w.on('message', (m) => (msg = m));
      w.on('error', reject);
      w.on('exit', () => resolve(msg));
    });
  }

  it("a worker cannot touch the main thread's mapping, nor the main thread a worker's: a handle does not cross threads", async () => {
    const m = new Mapping(4 * PAGE, { commit: true });
    const handle = { address: m.address, length: m.length }; // all a structured clone of a handle can carry
    const out = await inWorker(
      `
      let code; try { binding.madvise(workerData, 0, ${PAGE}, 'dontneed'); } catch (e) { code = e.code; }
      let viewCode; try { binding.view(workerData, 0, ${PAGE}); } catch (e) { viewCode = e.code; }
      const own = binding.map(${PAGE}, ${PAGE}, true);
      globalThis.own = own;
      parentPort.postMessage({ code, viewCode, own });`,
      handle,
    );
    expect(out.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(out.viewCode).toBe('ERR_INVALID_ARG_TYPE');
    expect(thrown(() => binding.madvise(out.own, 0, PAGE, 'dontneed')).code).toBe('ERR_INVALID_ARG_TYPE');
    m.unmap();
  });

  it("a worker's mappings are unmapped when it exits (environment cleanup)", async () => {
    const out = await inWorker(`const a = []; for (let i = 0; i < 8; i++) { const m = binding.map(${64 * PAGE}, ${PAGE}, true); binding.touch(m, 0, ${64 * PAGE}); a.push(m.address); } globalThis.keep = a; parentPort.postMessage(a);`, null);
    expect(out).toHaveLength(8);
    const vmas = readSmaps();
    expect(out.filter((a: number) => vmaAt(vmas, a)?.rss)).toEqual([]);
  });

  it('8 workers mapping, advising and unmapping concurrently stay independent', async () => {
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        inWorker(
          `let ok = 0; for (let k = 0; k < 200; k++) { const m = binding.map(${16 * PAGE}, ${PAGE}, true); binding.touch(m, 0, ${16 * PAGE}, workerData);
             binding.madvise(m, 0, ${8 * PAGE}, 'dontneed'); if (binding.readPages(m, 0, ${16 * PAGE}) === 8 * workerData) ok++; binding.unmap(m); }
           parentPort.postMessage({ ok, left: binding.mappings().length });`,
          i + 1,
        ),
      ),
    );
    expect(results).toEqual(Array.from({ length: 8 }, () => ({ ok: 200, left: 0 })));
  });
});

it('mappings() lists only live mappings of this thread', () => {
  const m = new Mapping(PAGE);
  expect(mappings().some((x) => x.address === m.address)).toBe(true);
  m.unmap();
  expect(mappings().some((x) => x.address === m.address)).toBe(false);
});
