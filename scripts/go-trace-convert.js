#!/usr/bin/env node
'use strict';
/**
 * node scripts/go-trace-convert.js RAW OUT [KEY=VALUE ...]: a Go 1.23 execution trace (recorded
 * with GODEBUG=traceallocfree=1) into the lab's own form, gzipped (docs/trace.md), with the
 * provenance given as KEY=VALUE plus what the trace itself says. Reads the trace with hugespan's
 * own reader (dist/lab/go-trace.js): what `lab --go-trace RAW` would replay, byte for byte.
 */
const fs = require('node:fs');
const crypto = require('node:crypto');
const path = require('node:path');
const { parseGoTrace, goTraceSummary, gzipGoSpans } = require(path.join(__dirname, '..', 'dist', 'lab', 'go-trace.js'));

const [raw, out, ...pairs] = process.argv.slice(2);
if (!raw || !out) {
  console.error('usage: node scripts/go-trace-convert.js RAW OUT [KEY=VALUE ...]');
  process.exit(2);
}
const bytes = fs.readFileSync(raw);
const t0 = performance.now();
const g = parseGoTrace(bytes);
const ms = performance.now() - t0;
const s = goTraceSummary(g);
const provenance = Object.fromEntries(pairs.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]));
Object.assign(provenance, {
  rawBytes: bytes.length,
  rawSha256: crypto.createHash('sha256').update(bytes).digest('hex'),
  heapEvents: g.count,
  allocs: s.allocs,
  frees: s.frees,
  gcCycles: s.gcs,
  seconds: Number(s.seconds.toFixed(3)),
});
const gz = gzipGoSpans(g, provenance);
fs.writeFileSync(out, gz);
console.log(
  `${path.basename(out)}: ${g.eventsRead} trace events read in ${ms.toFixed(0)} ms (${((g.eventsRead / ms) * 1000 / 1e6).toFixed(1)} M/s); ` +
    `${g.count} heap events (${s.allocs} allocs, ${s.frees} frees, ${s.gcs} GCs, ${s.seconds.toFixed(1)} s); ${(gz.length / 1024).toFixed(0)} KiB gzipped; ` +
    `unrecorded by Go's tracer: ${g.unrecorded.frees} frees, ${g.unrecorded.impliedFrees} implied`,
);
