/**
 * Prometheus' own checker, where the host has it (Debian/Ubuntu package `prometheus`; installed
 * by scripts/e2e/install-prometheus.sh). Tests that need it skip with this reason elsewhere.
 */
import { spawnSync } from 'node:child_process';

const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });

/** Why promtool tests skip here, or undefined when promtool runs. */
export const promtoolReason: string | undefined =
  probe.status === 0 ? undefined : 'promtool is not installed (apt-get install prometheus, or run scripts/e2e/install-prometheus.sh as root)';

/** promtool ARGS with `input` on stdin: its exit status and what it printed. */
export function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', args, { input, encoding: 'utf8', timeout: 30000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
