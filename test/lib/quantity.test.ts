import { describe, expect, it } from 'vitest';
import { parseCpuQuantity, parseMemoryBytes, parseQuantity } from '../../src/lib/quantity.ts';

describe('parseQuantity reads every form of the Kubernetes quantity grammar', () => {
  it.each([
    // plain numbers, with the number forms digits, digits.digits, digits. and .digits
    ['1', 1],
    ['734003200', 734003200],
    ['1.5', 1.5],
    ['1.', 1],
    ['.5', 0.5],
    // signs
    ['+1', 1],
    ['-1', -1],
    ['+1Gi', 2 ** 30],
    ['-.5k', -500],
    // binary SI
    ['1Ki', 2 ** 10],
    ['512Mi', 512 * 2 ** 20],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['.5Gi', 2 ** 29],
    ['1Ti', 2 ** 40],
    ['1Pi', 2 ** 50],
    ['1Ei', 2 ** 60],
    // decimal SI
    ['1500000n', 0.0015],
    ['100u', 0.0001],
    ['100m', 0.1],
    ['2k', 2000],
    ['1M', 1e6],
    ['1G', 1e9],
    ['1T', 1e12],
    ['1P', 1e15],
    ['1E', 1e18],
    // decimal exponent, either case, signed
    ['1e3', 1000],
    ['1E3', 1000],
    ['129e6', 129e6],
    ['1e+3', 1000],
    ['5e-3', 0.005],
    // white space around it is ignored
    [' 4Gi ', 4 * 2 ** 30],
  ])('%j is %d', (text, value) => {
    expect(parseQuantity(text)).toBeCloseTo(value, 12);
  });

  it.each([
    [''],
    ['   '],
    ['1.2.3'],
    ['Gi'],
    ['1Gb'],
    ['1 Gi'],
    ['1gi'],
    ['2K'],
    ['1KiB'],
    ['.'],
    ['+'],
    ['+-1'],
    ['1e'],
    ['1e3.5'],
    ['1e3Gi'],
    ['1Ki3'],
    ['0x10'],
    ['fast'],
  ])('refuses %j', (text) => {
    expect(parseQuantity(text)).toBeUndefined();
  });
});

describe('parseCpuQuantity', () => {
  it('gives cores', () => {
    expect(parseCpuQuantity('250m')).toBeCloseTo(0.25, 12);
    expect(parseCpuQuantity('2')).toBe(2);
  });
});

describe('parseMemoryBytes', () => {
  it('gives whole bytes', () => {
    expect(parseMemoryBytes('4Gi')).toBe(4 * 2 ** 30);
    expect(parseMemoryBytes('1.5Ki')).toBe(1536);
    expect(parseMemoryBytes('1500m')).toBe(2);
    expect(parseMemoryBytes('0')).toBe(0);
    expect(parseMemoryBytes('-0')).toBe(0);
  });

  it('refuses a negative size and what is not a quantity', () => {
    expect(parseMemoryBytes('-1Gi')).toBeUndefined();
    expect(parseMemoryBytes('4GB')).toBeUndefined();
  });
});

// Moved from test/sources/kubernetes.test.ts with the parser.
describe('Kubernetes quantities', () => {
  it('parses CPU in cores from milli, nano and whole units', () => {
    expect(parseCpuQuantity('250m')).toBeCloseTo(0.25, 12);
    expect(parseCpuQuantity('1')).toBe(1);
    expect(parseCpuQuantity('1500000n')).toBeCloseTo(0.0015, 12);
    expect(parseCpuQuantity('942137519n')).toBeCloseTo(0.942137519, 12);
    expect(parseCpuQuantity('100u')).toBeCloseTo(0.0001, 12);
    expect(parseCpuQuantity('1.5')).toBe(1.5);
  });

  it('parses memory in bytes from binary, decimal and exponent suffixes', () => {
    expect(parseMemoryBytes('512Mi')).toBe(512 * 1024 * 1024);
    expect(parseMemoryBytes('1Gi')).toBe(1024 ** 3);
    expect(parseMemoryBytes('123456Ki')).toBe(123456 * 1024);
    expect(parseMemoryBytes('734003200')).toBe(734003200);
    expect(parseMemoryBytes('1G')).toBe(1e9);
    expect(parseMemoryBytes('129e6')).toBe(129e6);
    expect(parseMemoryBytes('1k')).toBe(1000);
  });

  it('refuses what is not a quantity', () => {
    expect(parseCpuQuantity('fast')).toBeUndefined();
    expect(parseMemoryBytes('12 Mi')).toBeUndefined();
    expect(parseMemoryBytes('1Gb')).toBeUndefined();
    expect(parseMemoryBytes('')).toBeUndefined();
  });
});
