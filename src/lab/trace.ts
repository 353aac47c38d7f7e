/**
 * Lab traces: a workload as JSON Lines of alloc/free/gc events (docs/trace.md), read and
 * validated whole before any heap exists, then replayed as the lab's ops; and the writer that
 * records a run's ops in the same format.
 * Invariant: parseTrace either returns events that replay without a free of a span that is not
 * live, or throws a TraceError naming the line and the field — it never returns part of a file.
 */
import type { Op } from './workload';

export type TraceEvent = { op: 'alloc'; id: number; pages: number } | { op: 'free'; id: number } | { op: 'gc' };

/** Pages one alloc may ask for: 8 GiB of 8 KiB runtime pages, past any arena the lab maps. */
export const MAX_TRACE_PAGES = 1 << 20;

/** A trace that cannot be replayed: `line` (1-based) and `field` say where. */
export class TraceError extends Error {
  override name = 'TraceError';
  readonly code = 'ERR_HUGESPAN_TRACE';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string | null,
    what: string,
  ) {
    super(`${file}:${line}: ${field === null ? '' : `field '${field}': `}${what}`);
  }
}

const FIELDS: Record<TraceEvent['op'], readonly string[]> = { alloc: ['op', 'id', 'pages'], free: ['op', 'id'], gc: ['op'] };

/**
 * Every line an event; blank lines are skipped (a trailing newline, hand-edited files). Ids
 * must be live when freed and not live when allocated; an id may be reused after its free.
 */
export function parseTrace(text: string, file: string): TraceEvent[] {
  const events: TraceEvent[] = [];
  const live = new Map<number, number>(); // id → line of its alloc
  const freed = new Map<number, number>(); // id → line of its free, for "double free" over "unknown id"
  const lines = text.split('\n');
  for (let n = 1; n <= lines.length; n++) {
    const raw = lines[n - 1].trim();
    if (raw === '') continue;
    const fail = (field: string | null, what: string): never => {
      throw new TraceError(file, n, field, what);
    };
    let v: unknown;
    try {
      v = JSON.parse(raw);
    } catch (e) {
      fail(null, `not JSON (${(e as Error).message})`);
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(null, 'wants a JSON object, e.g. {"op":"alloc","id":7,"pages":3}');
    const o = v as Record<string, unknown>;
    if (!('op' in o)) fail('op', 'missing (alloc, free or gc)');
    if (o.op !== 'alloc' && o.op !== 'free' && o.op !== 'gc') fail('op', `wants alloc, free or gc, not ${JSON.stringify(o.op)}`);
    const op = o.op as TraceEvent['op'];
    const extra = Object.keys(o).find((k) => !FIELDS[op].includes(k));
    if (extra !== undefined) fail(extra, `unknown field for op ${op} (it has ${FIELDS[op].join(', ')})`);
    if (op === 'gc') {
      events.push({ op });
      continue;
    }
    if (!('id' in o)) fail('id', 'missing');
    const id = o.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) fail('id', `wants a non-negative integer, not ${JSON.stringify(id)}`);
    const idn = id as number;
    if (op === 'alloc') {
      if (!('pages' in o)) fail('pages', 'missing');
      const pages = o.pages;
      if (typeof pages !== 'number' || !Number.isInteger(pages) || pages < 1 || pages > MAX_TRACE_PAGES) {
        fail('pages', `wants an integer from 1 to ${MAX_TRACE_PAGES}, not ${JSON.stringify(pages)}`);
      }
      const at = live.get(idn);
      if (at !== undefined) fail('id', `${idn} is already live (allocated on line ${at})`);
      live.set(idn, n);
      freed.delete(idn);
      events.push({ op, id: idn, pages: pages as number });
    } else {
      if (!live.has(idn)) {
        const at = freed.get(idn);
        fail('id', at !== undefined ? `double free of ${idn} (already freed on line ${at})` : `free of unknown id ${idn} (no live alloc of it before this line)`);
      }
      live.delete(idn);
      freed.set(idn, n);
      events.push({ op, id: idn });
    }
  }
  return events;
}

/** The events as the lab's ops. */
export function* replay(events: readonly TraceEvent[]): Generator<Op> {
  for (const e of events) {
    if (e.op === 'alloc') yield { kind: 'alloc', npages: e.pages, id: e.id };
    else if (e.op === 'free') yield { kind: 'free', id: e.id };
    else yield { kind: 'gc' };
  }
}

/** One event as its line, fields in the documented order (no newline). */
export function formatEvent(e: TraceEvent): string {
  return e.op === 'alloc' ? `{"op":"alloc","id":${e.id},"pages":${e.pages}}` : e.op === 'free' ? `{"op":"free","id":${e.id}}` : '{"op":"gc"}';
}
