'use strict';
/**
 * Row 19 (issue 20): importing a real Go program's trace. A Go 1.23 execution trace recorded
 * here (encoding/json's BenchmarkCodeDecoder, GODEBUG=traceallocfree=1: millions of events,
 * nearly all heap objects the reader skips) read by hugespan's reader (parseGoTrace: every event
 * decoded, the heap's kept, merged by time, paired) against the floor of any reader in JS: one
 * pass decoding every uvarint of the same bytes, nothing kept. Needs Go >= 1.23 (npm run traces
 * installs it); without it the row says so.
 */
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { summary, paired, ratios } = require('../lib');

function findGo() {
  for (const g of ['go', '/usr/lib/go-1.23/bin/go', '/usr/lib/go-1.24/bin/go', '/usr/lib/go-1.25/bin/go']) {
    const r = spawnSync(g, ['env', 'GOVERSION'], { encoding: 'utf8' });
    if (r.status === 0 && /^go1\.23\b/.test(r.stdout.trim())) return g;
  }
  return undefined;
}

/** Every uvarint of the buffer, summed: the least a reader of this format must do. */
function uvarintFloor(b) {
  let sum = 0;
  let x = 0;
  let mul = 1;
  for (let i = 0; i < b.length; i++) {
    const c = b[i];
    x += (c & 0x7f) * mul;
    if (c < 0x80) {
      sum += x;
      x = 0;
      mul = 1;
    } else mul *= 128;
  }
  return sum;
}

module.exports = async function goTraceRow(ctx) {
  const what = 'import a Go 1.23 trace (`lab --go-trace`)';
  const go = findGo();
  if (!go) return [{ row: '19', what, unsupported: 'no Go 1.23 here to record a trace (npm run traces installs golang-1.23 from bookworm-backports)' }];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hugespan-bench-gotrace-'));
  try {
    const raw = path.join(dir, 'json.trace');
    const env = { ...process.env, GODEBUG: 'traceallocfree=1', GOCACHE: path.join(dir, 'cache'), GOTOOLCHAIN: 'local', GOFLAGS: '' };
    const rec = spawnSync(go, ['test', '-run', '^$', '-bench', '^BenchmarkCodeDecoder$', '-benchtime', ctx.quick ? '20x' : '100x', '-trace', raw, 'encoding/json'], { encoding: 'utf8', env, timeout: 300000 });
    if (rec.status !== 0) return [{ row: '19', what, unsupported: `go test failed: ${String(rec.stderr).slice(-300)}` }];
    const bytes = fs.readFileSync(raw);
    const { parseGoTrace } = ctx.dist('lab/go-trace');
    const first = parseGoTrace(bytes);
    const t = await paired(ctx.runs, {
      ours: async () => {
        const t0 = process.hrtime.bigint();
        parseGoTrace(bytes);
        return Number(process.hrtime.bigint() - t0);
      },
      floor: async () => {
        const t0 = process.hrtime.bigint();
        uvarintFloor(bytes);
        return Number(process.hrtime.bigint() - t0);
      },
    }, { slices: 1 });
    const ours = summary(t.ours);
    const perSec = (ns) => (first.eventsRead / ns) * 1e9;
    return [{
      row: '19',
      what: `${what}: ${(bytes.length / 1e6).toFixed(0)} MB, ${(first.eventsRead / 1e6).toFixed(1)} M events, ${first.count} heap events`,
      ours,
      baseline: { label: 'JS: one pass decoding every uvarint, nothing kept', ...summary(t.floor) },
      ratio: summary(ratios(t.ours, t.floor)),
      target: '≥ 1 M events/s',
      note: `${(perSec(ours.median) / 1e6).toFixed(1)} M events/s (${(perSec(ours.max) / 1e6).toFixed(1)}–${(perSec(ours.min) / 1e6).toFixed(1)}); unrecorded by Go's tracer: ${first.unrecorded.frees} frees, ${first.unrecorded.impliedFrees} implied`,
      dependsOn: 'one core\'s byte-at-a-time decoding; the heap events kept are a fraction of a percent of those read',
      details: { bytes: bytes.length, eventsRead: first.eventsRead, heapEvents: first.count },
    }];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
};
