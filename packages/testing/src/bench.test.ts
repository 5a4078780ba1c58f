import { describe, expect, it } from 'vitest';
import { maxInAnyWindow } from './bench.js';

describe('maxInAnyWindow', () => {
  it('counts the most timestamps in any half-open window, in any input order', () => {
    expect(maxInAnyWindow([], 1000)).toBe(0);
    expect(maxInAnyWindow([1500, 0, 999, 1000, 1999], 1000)).toBe(3); // [1000, 2000) holds 1000, 1500, 1999
    expect(maxInAnyWindow([0, 1000, 2000], 1000)).toBe(1);
  });
});
