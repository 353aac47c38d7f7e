/**
 * The addon's calls on another process, fed bad arguments: pidfdOpen/pidfdAlive/pidfdClose,
 * collapseIn (takes a pidfd, never a pid) and zeroPages. Each refusal is the exact error class
 * and code, thrown before any syscall; a closed or forged pidfd is refused; and zeroPages reads
 * exactly what it is asked, within its budget, from a mapping whose zero pages are known.
 */
import { binding } from '../../src/native/binding';
import { hugePageSize } from '../../src/native/host';
import { spawnSync } from 'node:child_process';
import { thrown } from '../support/errors';

/** The pid of a process that has exited (and been reaped): nothing has it, short of a reuse. */
const goneP = (): number => spawnSync('true').pid!;

const PAGE = binding.pageSize();
const H = hugePageSize() || 2 << 20;

describe('pidfd', () => {
  it('opens this process, says it is alive, closes; a closed or forged handle is refused', () => {
    const p = binding.pidfdOpen('self');
    expect(binding.pidfdAlive(p)).toBe(true);
    binding.pidfdClose(p);
    binding.pidfdClose(p); // twice is allowed
    expect(thrown(() => binding.pidfdAlive(p))).toMatchObject({ code: 'ERR_INVALID_STATE' });
    expect(thrown(() => binding.collapseIn(p, new Float64Array(0)))).toMatchObject({ code: 'ERR_INVALID_STATE' });
    for (const forged of [{}, 3, 'self', null, undefined]) {
      expect(thrown(() => binding.pidfdAlive(forged as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => binding.collapseIn(forged as never, new Float64Array(0)))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    }
  });

  it('a process that is gone: ESRCH as a SystemError', () => {
    const e = thrown(() => binding.pidfdOpen(goneP()));
    expect(e).toMatchObject({ code: 'ESRCH', syscall: 'pidfd_open' });
  });

  it('collapseIn refuses ranges that are not a Float64Array of page-aligned pairs', () => {
    const p = binding.pidfdOpen('self');
    try {
      expect(thrown(() => binding.collapseIn(p, [0, H] as never))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
      expect(thrown(() => binding.collapseIn(p, new Float64Array(3)))).toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' });
      expect(thrown(() => binding.collapseIn(p, new Float64Array([1, H])))).toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' });
      expect(thrown(() => binding.collapseIn(p, new Float64Array([NaN, H])))).toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' });
    } finally {
      binding.pidfdClose(p);
    }
  });
});

describe('zeroPages', () => {
  const m = binding.map(2 * H, H, true);
  afterAll(() => binding.unmap(m));

  it('counts the zero pages of what it reads, exactly, a page with data only at its last byte included', () => {
    const v = binding.view(m, 0, 2 * H);
    // Pages 0, 3 and 7 hold data: page 0 at its first byte, page 3 at its last, page 7 mid-way.
    v[0] = 1;
    v[4 * PAGE - 1] = 2;
    v[7 * PAGE + 2000] = 3;
    const r = binding.zeroPages('self', new Float64Array([m.address, 2 * H]), 2 * H);
    expect(r.read[0]).toBe(2 * H);
    expect(r.zero[0]).toBe((2 * H) / PAGE - 3);
    expect(r.bytes).toBe(2 * H);
  });

  it('the budget bounds it: reads stop there, the rest of the ranges read nothing', () => {
    const r = binding.zeroPages('self', new Float64Array([m.address, H, m.address + H, H]), 3 * PAGE);
    expect(Array.from(r.read)).toEqual([3 * PAGE, 0]);
    expect(r.bytes).toBe(3 * PAGE);
    const none = binding.zeroPages('self', new Float64Array([m.address, H]), 0);
    expect(none.bytes).toBe(0);
  });

  it('an unmapped range reads nothing and is no error; bad arguments are refused before reading', () => {
    const gone = binding.map(H, H, true);
    const at = gone.address;
    binding.unmap(gone);
    expect(Array.from(binding.zeroPages('self', new Float64Array([at, H]), H).read)).toEqual([0]);
    expect(thrown(() => binding.zeroPages('self', [m.address, H] as never, H))).toMatchObject({ name: 'TypeError', code: 'ERR_INVALID_ARG_TYPE' });
    expect(thrown(() => binding.zeroPages('self', new Float64Array([m.address + 1, H]), H))).toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' });
    expect(thrown(() => binding.zeroPages('self', new Float64Array([m.address]), H))).toMatchObject({ name: 'RangeError', code: 'ERR_INVALID_ARG_VALUE' });
    expect(thrown(() => binding.zeroPages('self', new Float64Array(0), -1))).toMatchObject({ name: 'RangeError' });
    expect(thrown(() => binding.zeroPages(0 as never, new Float64Array(0), 1))).toMatchObject({ name: 'RangeError' });
  });

  it('a process that is gone: ESRCH as a SystemError', () => {
    expect(thrown(() => binding.zeroPages(goneP(), new Float64Array([PAGE, PAGE]), PAGE))).toMatchObject({ code: 'ESRCH', syscall: 'process_vm_readv' });
  });
});
