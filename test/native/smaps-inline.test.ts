/**
 * smapsInline(): inside it, streamSmaps reads the file whole on this thread as one batch; the
 * VMAs, the filter's effect, the totals and the errors are the stream's, to the byte.
 */
import { spawn } from 'node:child_process';
import { eachVma, smapsInline, streamSmaps, Vma } from '../../src/native/smaps';

function read(pid: number, fields?: string[]): { vmas: Vma[]; batches: number; total: number; sums: Record<string, number> } {
  const vmas: Vma[] = [];
  let batches = 0;
  const { total, sums } = streamSmaps(pid, { minAnonymous: 1, fields }, (flat) => {
    batches++;
    eachVma(flat, (v) => vmas.push(v));
  });
  return { vmas, batches, total, sums };
}

/** A VMA's (or the sums') fields without the proportional ones (pss*, swapPss). */
function unshared<T extends object>(v: T): Partial<T> {
  return Object.fromEntries(Object.entries(v).filter(([k]) => !/^pss|^swapPss/i.test(k))) as Partial<T>;
}

it('the same VMAs, filter and totals as the stream, in one batch', async () => {
  // A process that holds still: sleep, stopped so nothing in it moves between the reads.
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 100));
  child.kill('SIGSTOP');
  try {
    const pid = child.pid!;
    for (const fields of [undefined, ['anonymous', 'rss']]) {
      const streamed = read(pid, fields);
      const inline = smapsInline(() => read(pid, fields));
      expect(inline.batches).toBe(1);
      // Pss shares a page among the processes mapping it: another process starting or ending
      // between the two reads (this suite runs in parallel) moves it. Everything else holds still.
      expect(inline.vmas.map(unshared)).toEqual(streamed.vmas.map(unshared));
      expect(inline.total).toBe(streamed.total);
      expect(unshared(inline.sums)).toEqual(unshared(streamed.sums));
      expect(inline.vmas.length).toBeGreaterThan(0);
      expect(inline.vmas.every((v) => v.anonymous >= 1)).toBe(true);
    }
    // Outside it again: the stream.
    expect(read(pid).total).toBe(read(pid).total);
  } finally {
    child.kill('SIGKILL');
  }
});

it('a process that does not exist throws ENOENT inline as the stream does', () => {
  // A pid just freed: a shell that ran and was reaped.
  const gone = Number(require('node:child_process').spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout);
  const code = (f: () => unknown) => {
    try {
      f();
      return 'no error';
    } catch (e) {
      return (e as { code?: string }).code;
    }
  };
  expect(smapsInline(() => code(() => read(gone)))).toBe(code(() => read(gone)));
  expect(code(() => read(gone))).toBe('ENOENT');
});
