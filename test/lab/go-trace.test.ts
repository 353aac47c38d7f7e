/**
 * Real Go programs as lab workloads (src/lab/go-trace.ts). The reader against traces built byte
 * by byte here (bookkeeping: no kernel involved), against Go's own trace parser where Go >= 1.23
 * is installed (`go tool trace -d=1` counts), and the shipped traces: readable, paired, as their
 * provenance says, replayed with the heap in use equal to the trace's at every GC and the span
 * books never below the runtime's own heapLive.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GO_EVENT, GoTraceError, goTraceArg, goTraceSummary, loadGoTrace, parseGoTrace, readGoSpans, writeGoSpans } from '../../src/lab/go-trace';
import { runLab } from '../../src/lab/run';
import { ROOT } from '../support/child';
import { itUnless, thpReason } from '../support/thp';

// ---- a Go 1.23 trace, byte by byte --------------------------------------------------------

function uvarint(x: number): number[] {
  const out: number[] = [];
  while (x >= 0x80) {
    out.push((x % 0x80) | 0x80);
    x = Math.floor(x / 0x80);
  }
  out.push(x);
  return out;
}
/** A batch: [type, (exp), gen, m, time, size, data]. */
function batch(m: number, time: number, data: number[], exp = 0): number[] {
  return [...(exp ? [49, exp] : [1]), ...uvarint(1), ...uvarint(m), ...uvarint(time), ...uvarint(data.length), ...data];
}
/** Timed events: [type, dt, ...args]. */
function events(list: [number, number, ...number[]][]): number[] {
  return list.flatMap(([type, dt, ...args]) => [type, ...uvarint(dt), ...args.flatMap(uvarint)]);
}
const HEADER = [...Buffer.from('go 1.23 trace\0\0\0', 'latin1')];
const FREQ = batch(0, 0, [8, ...uvarint(1e9)]); // 1 tick = 1 ns
const INFO = batch(0, 0, [1, ...uvarint(0), ...uvarint(8192), ...uvarint(8), ...uvarint(8192)], 1);
const SPAN = 128;
const ALLOC = 129;
const FREE = 130;

function trace(...batches: number[][]): Uint8Array {
  return Uint8Array.from([...HEADER, ...INFO, ...batches.flat(), ...FREQ]);
}

describe('the Go 1.23 trace reader (traces built here)', () => {
  it('merges two threads by time; spans alive at the start, allocs, sweeper frees, GC and heap goal; other events skipped', () => {
    const m1 = batch(1, 1000, events([[SPAN, 0, 5, 1, 1], [16, 10, 7, 1] /* GoStart */, [ALLOC, 90, 9, 4, 20], [FREE, 200, 9]]));
    const m2 = batch(2, 1050, events([[29, 0, 1, 0] /* GCBegin */, [38, 10, 4 << 20] /* HeapGoal */, [37, 5, 1 << 20] /* HeapAlloc */, [FREE, 300, 5], [30, 10, 1] /* GCEnd */]));
    const g = parseGoTrace(trace(m1, m2));
    const rows = Array.from({ length: g.count }, (_, i) => [g.t[i], g.kind[i], g.id[i], g.pages[i], g.value[i]]);
    expect(rows).toEqual([
      [0, GO_EVENT.alloc, 5, 1, 1], // alive when tracing began
      [50, GO_EVENT.gcBegin, 1, 0, 0],
      [60, GO_EVENT.heapGoal, 0, 0, 4 << 20],
      [65, GO_EVENT.heapLive, 0, 0, 1 << 20],
      [100, GO_EVENT.alloc, 9, 4, 0],
      [300, GO_EVENT.free, 9, 0, 0],
      [365, GO_EVENT.free, 5, 0, 0],
      [375, GO_EVENT.gcEnd, 1, 0, 0],
    ]);
    expect({ existing: g.existing, eventsRead: g.eventsRead, pageSize: g.pageSize, unrecorded: g.unrecorded }).toEqual({ existing: 1, eventsRead: 9, pageSize: 8192, unrecorded: { frees: 0, impliedFrees: 0 } });
  });

  it("what Go's tracer left out is counted: a free of a span never shown is dropped, an alloc at a live address implies the free", () => {
    const g = parseGoTrace(trace(batch(1, 0, events([[FREE, 5, 77], [ALLOC, 5, 1, 2, 4], [ALLOC, 5, 1, 3, 4], [FREE, 5, 1]]))));
    expect(Array.from(g.kind)).toEqual([GO_EVENT.alloc, GO_EVENT.free, GO_EVENT.alloc, GO_EVENT.free]);
    expect(g.unrecorded).toEqual({ frees: 1, impliedFrees: 1 });
    // At one tick, a free of a live span goes before an alloc that reuses its address.
    const same = parseGoTrace(trace(batch(1, 0, events([[ALLOC, 1, 3, 1, 4]])), batch(2, 0, events([[ALLOC, 9, 3, 1, 4]])), batch(3, 0, events([[FREE, 9, 3]]))));
    expect(Array.from(same.kind)).toEqual([GO_EVENT.alloc, GO_EVENT.free, GO_EVENT.alloc]);
    expect(same.unrecorded).toEqual({ frees: 0, impliedFrees: 0 });
  });

  it('refuses, naming where: another version, no span events, a truncated batch or number, an unknown event, no frequency', () => {
    const bad = (b: Uint8Array) => {
      try {
        parseGoTrace(b);
      } catch (e) {
        expect(e).toBeInstanceOf(GoTraceError);
        expect((e as GoTraceError).code).toBe('ERR_HUGESPAN_GO_TRACE');
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    const ok = trace(batch(1, 0, events([[ALLOC, 1, 1, 1, 4]])));
    expect(bad(Uint8Array.from([...Buffer.from('go 1.22 trace\0\0\0', 'latin1'), ...ok.subarray(16)]))).toMatch(/"go 1\.22 trace": hugespan reads Go 1\.23's/);
    expect(bad(Uint8Array.from(Buffer.from('not a trace at all, no')))).toMatch(/not a Go execution trace/);
    expect(bad(Uint8Array.from([...HEADER, ...batch(1, 0, events([[ALLOC, 1, 1, 1, 4]])), ...FREQ]))).toMatch(/GODEBUG=traceallocfree=1/);
    expect(bad(ok.subarray(0, ok.length - 3))).toMatch(/truncated at byte \d+/);
    expect(bad(trace(batch(1, 0, [ALLOC, 0x80])))).toMatch(/truncated at byte|runs past/);
    expect(bad(trace(batch(1, 0, [99, 1])))).toMatch(/event type 99 is not one of Go 1\.23's/);
    expect(bad(Uint8Array.from([...HEADER, ...INFO, ...batch(1, 0, events([[ALLOC, 1, 1, 1, 4]]))]))).toMatch(/no frequency batch/);
  });

  it("the lab's form round-trips every event; a bad line is refused with its number; only the reader's own traces are replayed", () => {
    const g = parseGoTrace(trace(batch(1, 0, events([[SPAN, 0, 5, 1, 1], [ALLOC, 3, 9, 4, 20], [38, 1, 1 << 22], [FREE, 2, 9]]))));
    const text = writeGoSpans(g, { program: 'made here' });
    const back = readGoSpans(text, 'x.spans');
    expect(back.provenance).toMatchObject({ program: 'made here', pageSize: 8192 });
    for (const k of ['t', 'kind', 'id', 'pages', 'cls', 'value'] as const) expect(Array.from(back.trace[k])).toEqual(Array.from(g[k]));
    expect(back.trace.existing).toBe(1);
    const lines = text.trimEnd().split('\n');
    expect(() => readGoSpans([...lines, 'f 9 9'].join('\n'), 'x.spans')).toThrow(/x\.spans:6: span 9 freed but not live/);
    expect(() => readGoSpans([...lines.slice(0, 2), 'a 9999 7 1 4', ...lines.slice(2)].join('\n'), 'x.spans')).toThrow(/x\.spans:4: time 3 goes back \(previous 9999\)/);
    expect(() => readGoSpans([...lines, 'q 9 9'].join('\n'), 'x.spans')).toThrow(/unknown event "q"/);
    expect(() => readGoSpans('{"op":"alloc"}', 'y')).toThrow(/not a hugespan go spans file/);
    const forged = { ...g };
    expect(() => goTraceArg(forged, 'io.goTrace')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(goTraceArg(back.trace, 'io.goTrace')).toBe(back.trace);
  });
});

// ---- the shipped traces -------------------------------------------------------------------

const DIR = path.join(ROOT, 'traces');
const shipped = fs.readdirSync(DIR).filter((f) => f.endsWith('.spans.gz')).sort();

describe('the shipped traces (traces/, npm run traces)', () => {
  it('there are real programs from the Go distribution, each with its provenance', () => {
    expect(shipped.length).toBeGreaterThanOrEqual(5);
    for (const f of shipped) {
      const { trace: g, provenance: p } = loadGoTrace(fs.readFileSync(path.join(DIR, f)), f);
      expect(p).toMatchObject({ program: expect.stringMatching(/^go test \S+ -bench /), go: expect.stringMatching(/^go1\.2[3-9]/), godebug: 'traceallocfree=1', rawSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      const s = goTraceSummary(g);
      expect({ f, heapEvents: g.count, allocs: s.allocs, frees: s.frees, gcCycles: s.gcs }).toEqual({ f, heapEvents: p!.heapEvents, allocs: p!.allocs, frees: p!.frees, gcCycles: p!.gcCycles });
      expect(s.gcs).toBeGreaterThan(0);
    }
  });

  itUnless(thpReason, 'replayed: the heap holds what the program held at every GC, and the books are never below the runtime\'s heapLive', () => {
    for (const f of ['flate-encode.spans.gz', 'http-client-server.spans.gz']) {
      const { trace: g } = loadGoTrace(fs.readFileSync(path.join(DIR, f)), f);
      const r = runLab({ policy: 'coalesce', thp: 'always', arenaBytes: 256 << 20, ops: g.count, seed: 1, reads: 1000, workload: 'go-trace', trace: f, khugepaged: 'none', samples: 20 }, undefined, { goTrace: g });
      const c = r.runtime.goTrace!;
      expect({ f, equal: c.equalAtGc, exhausted: r.ops.exhausted }).toEqual({ f, equal: c.gcs, exhausted: 0 });
      expect(c.spansOverHeapLive![0]).toBeGreaterThanOrEqual(1);
      expect(r.runtime.clockMs).toBeCloseTo(g.t[g.count - 1] / 1e6, 3);
      expect(r.ops.allocs).toBe(goTraceSummary(g).allocs);
    }
  }, 120000);
});

// ---- against Go's own reader ----------------------------------------------------------------

function go123(): string | undefined {
  const candidates = ['go', ...['/usr/lib/go-1.23/bin/go', '/usr/lib/go-1.24/bin/go', '/usr/lib/go-1.25/bin/go']];
  for (const g of candidates) {
    const r = spawnSync(g, ['env', 'GOVERSION'], { encoding: 'utf8' });
    if (r.status === 0 && /^go1\.23\b/.test(r.stdout.trim())) return g;
  }
  return undefined;
}
const GO = go123();

describe("against Go 1.23's own trace reader", () => {
  itUnless(GO ? undefined : 'no Go 1.23 here (npm run traces installs golang-1.23 from bookworm-backports)', 'the same spans, frees and GC cycles as `go tool trace -d=1` reads in a fresh trace', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-gotrace-'));
    try {
      const raw = path.join(dir, 't.trace');
      const env = { ...process.env, GODEBUG: 'traceallocfree=1', GOCACHE: path.join(dir, 'cache'), GOTOOLCHAIN: 'local', GOFLAGS: '' };
      const rec = spawnSync(GO!, ['test', '-run', '^$', '-bench', '^BenchmarkParse$', '-benchtime', '20x', '-trace', raw, 'go/parser'], { encoding: 'utf8', env, timeout: 240000 });
      expect(rec.status).toBe(0);
      const dump = spawnSync(GO!, ['tool', 'trace', '-d=1', raw], { encoding: 'utf8', env, maxBuffer: 1 << 30, timeout: 240000 }).stdout;
      const count = (re: RegExp) => (dump.match(re) ?? []).length;
      const theirs = { spans: count(/ Name=Span ArgNames/g), allocs: count(/ Name=SpanAlloc /g), frees: count(/ Name=SpanFree /g), gcs: count(/RangeBegin Time=\d+ Name="GC concurrent mark phase"/g) };
      const g = parseGoTrace(fs.readFileSync(raw));
      const s = goTraceSummary(g);
      const implied = g.unrecorded.impliedFrees;
      expect({ spans: g.existing, allocs: s.allocs - g.existing, frees: s.frees - implied + g.unrecorded.frees, gcs: s.gcs }).toEqual(theirs);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 300000);
});
