/**
 * frameTruth and framesOf check their step `h` (issue 21, item 4): a negative, zero, tiny,
 * non-power-of-two, non-number or BigInt step is refused with a code at once, where it used to
 * loop until V8 ran out of memory; and frameTruth judges a bounded number of frames per call.
 * The valid call still reads the kernel (real memory, real smaps and PAGEMAP_SCAN).
 */
import { frameTruth, MAX_FRAMES } from '../../src/verify/frames';
import { framesOf } from '../../src/native/coverage';
import { Mapping } from '../../src/native/mapping';
import { binding } from '../../src/native/binding';
import { hugePageSize } from '../../src/native/host';
import { thrown } from '../support/errors';

const P = binding.pageSize();
const H = hugePageSize() || 2 << 20;

const badSteps: [string, unknown, string][] = [
  ['-1', -1, 'ERR_OUT_OF_RANGE'],
  ['-H', -H, 'ERR_OUT_OF_RANGE'],
  ['0', 0, 'ERR_OUT_OF_RANGE'],
  ['1 (tiny)', 1, 'ERR_OUT_OF_RANGE'],
  ['P/2', P / 2, 'ERR_OUT_OF_RANGE'],
  ['3P (not a power of two)', 3 * P, 'ERR_INVALID_ARG_VALUE'],
  ['1.5', 1.5, 'ERR_OUT_OF_RANGE'],
  ['NaN', NaN, 'ERR_OUT_OF_RANGE'],
  ['Infinity', Infinity, 'ERR_OUT_OF_RANGE'],
  ['1n', 1n, 'ERR_INVALID_ARG_TYPE'],
  ["'2097152'", String(H), 'ERR_INVALID_ARG_TYPE'],
  ['undefined', undefined, 'ERR_INVALID_ARG_TYPE'],
];

describe('the frame step h', () => {
  const m = new Mapping(2 * H, { align: 'hugepage', commit: true });
  afterAll(() => m.unmap());

  it.each(badSteps)('frameTruth refuses h = %s at once', (_name, h, code) => {
    const t0 = performance.now();
    const e = thrown(() => frameTruth(m.address, m.end, h as number));
    expect([e.name, e.code]).toEqual([code === 'ERR_INVALID_ARG_TYPE' ? 'TypeError' : 'RangeError', code]);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it.each(badSteps)('framesOf refuses h = %s before its first frame', (_name, h, code) => {
    const e = thrown(() => framesOf([], m.address, m.end, h as number));
    expect(e.code).toBe(code);
  });

  it('frameTruth refuses a range of more than MAX_FRAMES frames, and ends that are not multiples of h', () => {
    expect(thrown(() => frameTruth(0, (MAX_FRAMES + 1) * H, H)).code).toBe('ERR_OUT_OF_RANGE');
    expect(thrown(() => frameTruth(m.address + P, m.end, H)).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(thrown(() => frameTruth(m.end, m.address, H)).code).toBe('ERR_INVALID_ARG_VALUE');
  });

  it('a valid step still reads the kernel: one frame per huge page, with the bytes touched present', () => {
    m.touch(0, P);
    const t = frameTruth(m.address, m.end, H);
    expect(t.frames.map((f) => f.base)).toEqual([m.address, m.address + H]);
    expect(t.frames[0].presentBytes).toBeGreaterThanOrEqual(P);
    expect(frameTruth(m.address, m.address, H)).toEqual({ exact: true, frames: [] });
  });
});
