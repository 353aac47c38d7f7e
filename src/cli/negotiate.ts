/**
 * HTTP content negotiation for /metrics (RFC 9110 §12.5): which exposition format, and whether to
 * gzip. Invariant: a q-value is honoured — a type or coding given q=0 is never chosen — the most
 * specific matching range sets a candidate's q, ties go to OpenMetrics (what Prometheus asks for
 * first) when it is named, not through a wildcard. Nothing acceptable, or no header: the text
 * format 0.0.4, as every scraper reads it.
 */
import type { Format } from './exposition';

interface Range {
  type: string;
  subtype: string;
  q: number;
}

function parseQ(params: string[]): number {
  for (const p of params) {
    const m = /^\s*q\s*=\s*([0-9.]+)\s*$/i.exec(p);
    if (m) {
      const q = Number(m[1]);
      return Number.isFinite(q) ? Math.min(1, Math.max(0, q)) : 1;
    }
  }
  return 1;
}

function ranges(header: string): Range[] {
  const out: Range[] = [];
  for (const part of header.split(',')) {
    const [media, ...params] = part.split(';');
    const m = /^\s*([\w.+*-]+)\/([\w.+*-]+)\s*$/.exec(media);
    if (m) out.push({ type: m[1].toLowerCase(), subtype: m[2].toLowerCase(), q: parseQ(params) });
  }
  return out;
}

/** The q of `type/subtype` under `header`'s ranges: the most specific match's (0 when none matches). */
function qualityOf(list: Range[], type: string, subtype: string): number {
  let best = -1;
  let q = 0;
  for (const r of list) {
    const specificity = r.type === type && r.subtype === subtype ? 2 : r.type === type && r.subtype === '*' ? 1 : r.type === '*' && r.subtype === '*' ? 0 : -1;
    if (specificity < 0 || specificity < best) continue;
    // Several ranges for the type (Prometheus lists OpenMetrics per version): the best of them.
    q = specificity > best ? r.q : Math.max(q, r.q);
    best = specificity;
  }
  return q;
}

/** The format to answer `accept` with. */
export function chooseFormat(accept: string | undefined): Format {
  if (!accept) return 'text';
  const list = ranges(accept);
  // OpenMetrics only when named: a scraper that accepts anything (*/*, curl) gets the text format.
  const named = list.some((r) => r.type === 'application' && r.subtype === 'openmetrics-text');
  const om = qualityOf(list, 'application', 'openmetrics-text');
  const text = qualityOf(list, 'text', 'plain');
  if (named && om > 0 && om >= text) return 'openmetrics';
  return 'text';
}

/** Whether `acceptEncoding` allows gzip (by name or *, with q > 0). */
export function acceptsGzip(acceptEncoding: string | undefined): boolean {
  if (!acceptEncoding) return false;
  let gzip: number | undefined;
  let star: number | undefined;
  for (const part of acceptEncoding.split(',')) {
    const [coding, ...params] = part.split(';');
    const name = coding.trim().toLowerCase();
    if (name === 'gzip' || name === 'x-gzip') gzip = parseQ(params);
    else if (name === '*') star = parseQ(params);
  }
  return (gzip ?? star ?? 0) > 0;
}
