/**
 * `hugespan run`: a real node program holding 64 MiB of Buffers (glibc mmapped chunks), run as
 * it is and with the fixes hugespan reads from its files; the fixed run's glibc-mmap-chunk
 * bytes on huge pages (PAGEMAP_SCAN) must rise. Bad arguments exit 2 and start nothing.
 */
import { cli } from './cli';
import { hostInfo } from '../../src/native/host';
import { exactReason, itUnless, MiB } from '../support/thp';
import { versionAtLeast } from '../../src/account/owners';
import { runtimesOfCommand } from '../../src/account/owners/probe';

const glibc = runtimesOfCommand(process.execPath).find((r) => r.name === 'glibc');
const enabled = hostInfo().thp.enabled;
const reason =
  exactReason ??
  (enabled !== 'madvise' ? `THP enabled=${enabled}: the fix's effect is told apart only under enabled=madvise` : undefined) ??
  (versionAtLeast(glibc?.version ?? null, '2.35') ? undefined : `glibc ${glibc?.version ?? 'not found'}: the hugetlb tunable needs glibc >= 2.35`);

const PROGRAM = ['-e', "globalThis.k = []; for (let i = 0; i < 8; i++) k.push(Buffer.alloc(8 << 20, 1)); setTimeout(() => {}, 60000)"];

describe('hugespan run', () => {
  it('reads the runtimes a command will run on from its files', () => {
    const names = runtimesOfCommand(process.execPath).map((r) => r.name);
    expect(names).toContain('node');
  });

  itUnless(reason, '--compare: the fix it sets for node\'s Buffers (glibc mmapped chunks) puts them on huge pages', () => {
    const r = cli(['run', '--compare', '--after', '2', '--json', '--', process.execPath, ...PROGRAM], { timeout: 60000 });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    const chunk = (i: number) => out.runs[i].owners.byOwner.find((t: { owner: string }) => t.owner === 'glibc-mmap-chunk') ?? { anonymous: 0, anonHugePages: 0 };
    expect(out.runs[1].env.GLIBC_TUNABLES).toContain('glibc.malloc.hugetlb=1');
    expect(chunk(0).anonymous).toBeGreaterThanOrEqual(60 * MiB);
    expect(chunk(1).anonHugePages - chunk(0).anonHugePages).toBeGreaterThanOrEqual(32 * MiB);
  }, 90000);

  it('the table names the owner and the fix set', () => {
    const r = cli(['run', '--fix', '--after', '1', '--', process.execPath, ...PROGRAM], { timeout: 60000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/glibc-mmap-chunk/);
    expect(r.stdout).toMatch(/fixes set: .*GLIBC_TUNABLES=/);
  }, 60000);

  it.each([
    [['run'], /needs a command after --/],
    [['run', '--compare', '--', 'true'], /--compare needs --after/],
    [['run', '--after', 'soon', '--', 'true'], /--after wants seconds/],
    [['run', '--', 'no-such-command-here'], /no such command/],
  ])('%j exits 2 and says why', (args, message) => {
    const r = cli(args as string[]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});
