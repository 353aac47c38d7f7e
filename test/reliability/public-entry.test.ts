/**
 * The public API against hostile callers, by class rather than by example: the driver
 * (public-entry.driver.js, in a child so that a call that hangs or crashes is seen) enumerates
 * every function and class exported by src/index.ts and the sub-indexes, and calls each entry,
 * each constructor, each method and accessor with every hostile value in every argument and
 * options field, and on every foreign receiver. Each throw must be an Error with a string `code`
 * (ERR_INVALID_THIS for a receiver), a refused call must leave the object's state as it was, and
 * a new export without a recipe in the driver fails here.
 */
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { CHILD_TIMEOUT_MS } from '../support/child';
import { thrown } from '../support/errors';
import * as api from '../../src';

const P = api.hostInfo().pageSize;
const m = new api.Mapping(4 * P, { commit: true });
const detached = new Uint8Array(8);
structuredClone(detached.buffer, { transfer: [detached.buffer] });
const heap = () => new api.MHeap(new api.Sys(new api.FakeMemory()), { arenaBytes: 8 << 20, growBytes: 4 << 20 });

/** The issue's own list (item 10), each with the code it now gets. */
const issueCases: [string, () => unknown, string][] = [
  ['Mapping.prototype.live on {}', () => Reflect.get(api.Mapping.prototype, 'live', {}), 'ERR_INVALID_THIS'],
  ['LinuxMemory.prototype.unmap.call({})', () => api.LinuxMemory.prototype.unmap.call({}, 0), 'ERR_INVALID_THIS'],
  ['Mapping.randomReads with an Object.create(Mapping.prototype)', () => api.Mapping.randomReads([[Object.create(api.Mapping.prototype), 0, P]], 1), 'ERR_INVALID_ARG_TYPE'],
  ["coverage('self', s, e, null)", () => api.coverage('self', m.address, m.end, null as never), 'ERR_INVALID_ARG_TYPE'],
  ['processReport(pid, null)', () => api.processReport(process.pid, null as never), 'ERR_INVALID_ARG_TYPE'],
  ['streamProcessReport(pid, {exact: true}, {})', () => api.streamProcessReport(process.pid, { exact: true }, {} as never), 'ERR_INVALID_ARG_TYPE'],
  ['new Sys(null)', () => new api.Sys(null as never), 'ERR_INVALID_ARG_TYPE'],
  ['new Sys(mem, null)', () => new api.Sys(new api.FakeMemory(), null as never), 'ERR_INVALID_ARG_TYPE'],
  ['new MHeap(sys, {arenaBytes: 2**50})', () => new api.MHeap(new api.Sys(new api.FakeMemory()), { arenaBytes: 2 ** 50 }), 'ERR_OUT_OF_RANGE'],
  ['MHeap with a Symbol option', () => new api.MHeap(new api.Sys(new api.FakeMemory()), { pageSize: Symbol('p') as never }), 'ERR_INVALID_ARG_TYPE'],
  ['MHeap with a BigInt option', () => new api.MHeap(new api.Sys(new api.FakeMemory()), { seed: 1n as never }), 'ERR_INVALID_ARG_TYPE'],
  ['MHeap with a detached TypedArray option', () => new api.MHeap(new api.Sys(new api.FakeMemory()), { growBytes: detached as never }), 'ERR_INVALID_ARG_TYPE'],
  ['new PageAlloc(2**40)', () => new api.PageAlloc(2 ** 40), 'ERR_OUT_OF_RANGE'],
  ['pa.grow(-5)', () => new api.PageAlloc(1024).grow(-5), 'ERR_OUT_OF_RANGE'],
  ['new FakeMemory().reserve(1e15, 4096)', () => new api.FakeMemory().reserve(1e15, 4096), 'ERR_OUT_OF_RANGE'],
  ['verify(null)', () => api.verify(null as never), 'ERR_INVALID_ARG_TYPE'],
  ["meaningOf('x')", () => api.meaningOf('x' as never), 'ERR_INVALID_ARG_VALUE'],
  ['hugePagesIn(Symbol())', () => api.hugePagesIn(Symbol('b') as never, 0, 0), 'ERR_INVALID_ARG_TYPE'],
  ['vmaAt(null, 0)', () => api.vmaAt(null as never, 0), 'ERR_INVALID_ARG_TYPE'],
  ['new GcModel(h, null).cycle()', () => new api.GcModel(heap(), null as never).cycle(), 'ERR_INVALID_ARG_TYPE'],
];

const DRIVER = path.join(__dirname, 'public-entry.driver.js');

afterAll(() => m.unmap());

describe("the issue's examples", () => {
  it.each(issueCases)('%s', (_name, call, code) => {
    const before = api.mappings();
    const e = thrown(call);
    expect(e.code).toBe(code);
    expect(e.name).toBe(code === 'ERR_OUT_OF_RANGE' || code === 'ERR_INVALID_ARG_VALUE' ? 'RangeError' : 'TypeError');
    expect(api.mappings()).toEqual(before);
  });
});

describe('every public entry point, with hostile receivers, arguments and options', () => {
  it('throws only coded errors, refuses without changing anything, and has a recipe for every export', () => {
    const r = spawnSync(process.execPath, [DRIVER], { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
    if (r.error) throw new Error(`the driver did not finish: ${r.error.message}; stderr: ${String(r.stderr).slice(-2000)}`);
    expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
    const out = JSON.parse(String(r.stdout).trim().split('\n').pop() ?? '');
    expect(out.missing).toEqual([]);
    expect(out.failures).toEqual([]);
    // The table is large by construction; a driver that silently skipped most of it would not be.
    expect(out.calls).toBeGreaterThan(8000);
  });
});
