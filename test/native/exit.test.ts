/**
 * exitNow (native/host.cc): _exit(2) for a CLI whose output has all left. It must end the
 * process with exactly the code given, keep what was written before it, and refuse a code that
 * is not one, changing nothing.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { binding } from '../../src/native/binding';
import { thrown } from '../support/errors';
import { ROOT } from '../support/child';

describe('exitNow', () => {
  it.each([0, 3, 255])('ends the process with code %i, after what was written synchronously', (code) => {
    const binding = JSON.stringify(path.join(ROOT, 'dist', 'native', 'binding.js'));
    const r = spawnSync(process.execPath, ['-e', `require('fs').writeSync(1, 'x'.repeat(100000)); require(${binding}).binding.exitNow(${code}); console.log('after')`], { encoding: 'utf8', timeout: 30000 });
    expect({ status: r.status, length: r.stdout.length, after: r.stdout.includes('after') }).toEqual({ status: code, length: 100000, after: false });
  });

  it.each<[unknown, string, string]>([
    ['3', 'TypeError', 'ERR_INVALID_ARG_TYPE'],
    [-1, 'RangeError', 'ERR_OUT_OF_RANGE'],
    [256, 'RangeError', 'ERR_OUT_OF_RANGE'],
    [1.5, 'RangeError', 'ERR_OUT_OF_RANGE'],
    [NaN, 'RangeError', 'ERR_OUT_OF_RANGE'],
  ])('code %p is refused and the process goes on', (code, name, errCode) => {
    const e = thrown(() => binding.exitNow(code as number));
    expect({ name: e.name, code: e.code }).toEqual({ name, code: errCode });
  });
});
