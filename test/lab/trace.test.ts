/**
 * Traces: every malformed line is refused up front naming its line and field, and a shipped
 * trace replays to exactly the run of the workload it was recorded from.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseTrace, TraceError, formatEvent } from '../../src/lab/trace';
import { runLab, LabOptions, LabResult } from '../../src/lab/run';

const ROOT = path.join(__dirname, '..', '..');
const A = '{"op":"alloc","id":7,"pages":3}';

describe('parseTrace', () => {
  it('reads alloc, free and gc; skips blank lines; ids may be reused after their free', () => {
    const text = `${A}\n\n{"op":"gc"}\n{"op":"free","id":7}\n${A}\n`;
    expect(parseTrace(text, 't')).toEqual([{ op: 'alloc', id: 7, pages: 3 }, { op: 'gc' }, { op: 'free', id: 7 }, { op: 'alloc', id: 7, pages: 3 }]);
  });

  it.each([
    ['bad JSON', `${A}\n{"op":"alloc",`, 2, null, /^t:2: not JSON/],
    ['not an object', '[1]', 1, null, /^t:1: wants a JSON object/],
    ['unknown op', `${A}\n{"op":"malloc","id":1}`, 2, 'op', /^t:2: field 'op': wants alloc, free or gc, not "malloc"$/],
    ['missing op', '{"id":1}', 1, 'op', /^t:1: field 'op': missing/],
    ['missing id', '{"op":"alloc","pages":1}', 1, 'id', /^t:1: field 'id': missing$/],
    ['bad id', '{"op":"free","id":"x"}', 1, 'id', /^t:1: field 'id': wants a non-negative integer, not "x"$/],
    ['negative pages', '{"op":"alloc","id":1,"pages":-2}', 1, 'pages', /^t:1: field 'pages': wants an integer from 1 to 1048576, not -2$/],
    ['missing pages', '{"op":"alloc","id":1}', 1, 'pages', /^t:1: field 'pages': missing$/],
    ['unknown field', '{"op":"gc","id":1}', 1, 'id', /^t:1: field 'id': unknown field for op gc/],
    ['free of an unknown id', `${A}\n{"op":"free","id":8}`, 2, 'id', /^t:2: field 'id': free of unknown id 8 /],
    ['double free', `${A}\n{"op":"free","id":7}\n\n{"op":"free","id":7}`, 4, 'id', /^t:4: field 'id': double free of 7 \(already freed on line 2\)$/],
    ['alloc of a live id', `${A}\n${A}`, 2, 'id', /^t:2: field 'id': 7 is already live \(allocated on line 1\)$/],
  ])('%s: refused, naming line and field', (_what, text, line, field, message) => {
    let err: unknown;
    try {
      parseTrace(text, 't');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TraceError);
    expect(err).toMatchObject({ line, field, code: 'ERR_HUGESPAN_TRACE' });
    expect((err as Error).message).toMatch(message);
  });

  it('formatEvent writes what parseTrace reads', () => {
    const events = [{ op: 'alloc', id: 1, pages: 9 }, { op: 'gc' }, { op: 'free', id: 1 }] as const;
    expect(parseTrace(events.map(formatEvent).join('\n'), 't')).toEqual(events);
  });
});

describe('shipped traces', () => {
  // The parameters docs/trace.md gives for recording them.
  const base = { policy: 'coalesce', thp: 'always', arenaBytes: 128 << 20, ops: 4000, seed: 1, reads: 1000 } as const;
  const same = (r: LabResult) => ({ ops: r.ops, runtime: r.runtime, heap: r.heap, calls: r.calls, claimed: r.verification.free.claimed });

  it.each(['churn', 'phase'] as const)('traces/%s-small.jsonl replays to the same run as its workload (same seed)', (w) => {
    const file = path.join(ROOT, 'traces', `${w}-small.jsonl`);
    expect(fs.statSync(file).size).toBeLessThan(200_000);
    const events = parseTrace(fs.readFileSync(file, 'utf8'), file);
    expect(events).toHaveLength(base.ops);
    const generated = runLab({ ...base, workload: w } as LabOptions);
    const replayed = runLab({ ...base, workload: 'trace', trace: file } as LabOptions, undefined, { events });
    expect(same(replayed)).toEqual(same(generated));
    expect(replayed.verification.free.recount).toBe(replayed.verification.free.claimed);
  });
});
