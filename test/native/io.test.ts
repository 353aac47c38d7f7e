/**
 * writeAll (native/io.cc): every byte to a file descriptor, waiting in poll(2) while a
 * non-blocking pipe is full. A child writes 2 MiB into a pipe whose reader starts late and
 * reads slowly: all of it arrives, in order; bad arguments are refused before any write.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { binding } from '../../src/native/binding';
import { thrown } from '../support/errors';
import { ROOT } from '../support/child';

describe('writeAll', () => {
  it('2 MiB into a pipe whose reader starts late: every byte arrives, in order', () => {
    const mod = JSON.stringify(path.join(ROOT, 'dist', 'native', 'binding.js'));
    // The writer's stdout is a pipe Node leaves non-blocking; the reader sleeps first.
    const code = `const b = Buffer.alloc(2 << 20); for (let i = 0; i < b.length; i++) b[i] = i % 251; require(${mod}).binding.writeAll(1, b);`;
    const r = spawnSync('bash', ['-c', `${JSON.stringify(process.execPath)} -e ${JSON.stringify(code)} | (sleep 0.3; cat) | od -An -tu1 -w1 -v | awk 'BEGIN{ok=1} {if ($1 != (NR-1) % 251) ok=0} END{print NR, ok}'`], { encoding: 'utf8', timeout: 60000 });
    expect({ out: r.stdout.trim(), err: r.stderr }).toEqual({ out: `${2 << 20} 1`, err: '' });
  });

  it.each<[string, unknown, unknown, string, string]>([
    ['fd a string', '1', new Uint8Array(1), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['fd negative', -1, new Uint8Array(1), 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['fd a fraction', 1.5, new Uint8Array(1), 'RangeError', 'ERR_OUT_OF_RANGE'],
    ['bytes a string', 1, 'x', 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    ['bytes a Float64Array', 1, new Float64Array(1), 'TypeError', 'ERR_INVALID_ARG_TYPE'],
  ])('%s: refused, nothing written', (_n, fd, bytes, name, code) => {
    const e = thrown(() => binding.writeAll(fd as number, bytes as Uint8Array));
    expect({ name: e.name, code: e.code }).toEqual({ name, code });
  });

  it('a closed descriptor: EBADF, shaped like a SystemError', () => {
    const e = thrown(() => binding.writeAll(987654, new Uint8Array(1)));
    expect({ code: e.code, errno: e.errno, syscall: e.syscall }).toEqual({ code: 'EBADF', errno: -9, syscall: 'write' });
  });
});
