/**
 * `report --format openmetrics|prometheus`: a report as a metrics document, to be left for
 * node_exporter's textfile collector (`prometheus`, the text format it parses) or read by an
 * OpenMetrics reader. Invariant: the families, names, units and HELP are the vocabulary's
 * (metrics.ts), filled by the same readings as `serve` (readings.ts), so a fact written here and
 * scraped from serve is one series; the host-wide document carries no pid label (the top
 * processes churn, and would collide with a per-process file); --group-by keys processes by
 * comm, exe or cgroup instead.
 */
import type { ProcessReport, SystemReport } from '../account/schema';
import { document, Format, Samples } from './exposition';
import type { GroupBy } from './metrics';
import { factsOfReport, factsOfSummary, hostOfReport, hostSamples, processSamples } from './readings';

export function processMetrics(r: ProcessReport, format: Format = 'openmetrics'): string {
  const out = new Samples();
  processSamples([factsOfReport(r)], out);
  return document(out.list, format);
}

/** The host; with `groupBy`, every process of the report (read with --all) summed per group. */
export function systemMetrics(r: SystemReport, format: Format = 'openmetrics', groupBy?: GroupBy): string {
  const out = new Samples();
  hostSamples(hostOfReport(r), out);
  if (groupBy) processSamples(r.processes.map(factsOfSummary), out, groupBy);
  return document(out.list, format);
}
