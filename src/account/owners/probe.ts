/**
 * The runtimes a command will run on, read from its files before it starts, so `hugespan run
 * --fix` can set their environment at exec: Go from the binary's build info, the JVM, CPython
 * and node from the program's name, glibc from the host's libc (dynamic binaries only),
 * jemalloc and tcmalloc from LD_PRELOAD or the binary naming them. Invariant: the same Runtime
 * values as attributeOwners finds in the running process; a runtime not seen here gets no fix.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Runtime } from './detect';
import { readProgramFile } from './program-file';
import { goVersion, glibcVersion, jemallocVersion, gperftoolsVersion } from './elf';


/** A command as exec would find it on PATH. */
export function resolveCommand(cmd: string, PATH = process.env.PATH ?? ''): string | undefined {
  if (cmd.includes('/')) return fs.existsSync(cmd) ? fs.realpathSync(cmd) : undefined;
  for (const dir of PATH.split(':').filter(Boolean)) {
    const f = path.join(dir, cmd);
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return fs.realpathSync(f);
    } catch {
      // not here
    }
  }
  return undefined;
}

const LIBC = ['/lib/x86_64-linux-gnu/libc.so.6', '/lib/aarch64-linux-gnu/libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/aarch64-linux-gnu/libc.so.6', '/lib64/libc.so.6', '/usr/lib64/libc.so.6'];

export function runtimesOfCommand(file: string, env: Record<string, string | undefined> = process.env): Runtime[] {
  const out: Runtime[] = [];
  const bin = readProgramFile(file);
  const base = path.basename(file);
  const dynamic = bin !== undefined && bin.includes('ld-linux');
  if (dynamic) {
    const libc = LIBC.find((f) => fs.existsSync(f));
    const b = libc && readProgramFile(libc);
    if (libc) out.push({ name: 'glibc', version: (b && glibcVersion(b)) || null, evidence: `${file} is dynamically linked; the host's libc is ${libc}` });
  }
  const preload = (env.LD_PRELOAD ?? '').split(/[: ]/).filter(Boolean);
  const je = preload.find((p) => /libjemalloc/.test(p)) ?? (bin?.includes('libjemalloc.so') ? 'libjemalloc.so (needed by the binary)' : undefined);
  if (je) out.push({ name: 'jemalloc', version: ((b) => (b && jemallocVersion(b)) || null)(readProgramFile(je)), evidence: `${je} preloaded or linked` });
  const tc = preload.find((p) => /libtcmalloc/.test(p)) ?? (bin?.includes('libtcmalloc') ? 'libtcmalloc (needed by the binary)' : undefined);
  if (tc) out.push({ name: 'tcmalloc', version: ((b) => (b && gperftoolsVersion(b)) || null)(readProgramFile(tc)), evidence: `${tc} preloaded or linked` });
  if (base === 'node' || base === 'nodejs') out.push({ name: 'node', version: null, evidence: `the program is ${file}` });
  const py = /^python(\d+\.\d+)?/.exec(base);
  if (py) out.push({ name: 'python', version: py[1] ?? null, evidence: `the program is ${file}` });
  if (base === 'java') {
    const release = readProgramFile(path.join(path.dirname(file), '..', 'release'))?.toString('utf8');
    out.push({ name: 'jvm', version: (release && /^JAVA_VERSION="([^"]+)"/m.exec(release)?.[1]) || null, evidence: `the program is ${file}` });
  }
  const go = bin && goVersion(bin);
  if (go !== undefined && bin) out.push({ name: 'go', version: go || null, evidence: `${file} has a .go.buildinfo section` });
  return out;
}
