import { describe, expect, it } from 'vitest';
import {
  formatMoney,
  itemsTotal,
  lineTotal,
  parseAmount,
  parseUnitPrice,
  toDecimalString,
} from './money';

describe('money', () => {
  it('reads decimal strings as exact minor units', () => {
    expect(parseAmount('12.5')).toBe(1250n);
    expect(parseAmount('340')).toBe(34000n);
    expect(parseAmount('0.07')).toBe(7n);
    expect(parseAmount('1.234')).toBeNull();
    expect(parseAmount('-1')).toBeNull();
    expect(parseAmount('1e3')).toBeNull();
    expect(parseUnitPrice('1234567890123')).toBeNull();
    expect(parseUnitPrice('999999999999.99')).toBe(99999999999999n);
  });

  it('adds what floating point cannot', () => {
    // 0.1 + 0.2 in floating point is 0.30000000000000004.
    expect(
      itemsTotal([
        { quantity: '1', unitPrice: '0.1' },
        { quantity: '1', unitPrice: '0.2' },
      ]),
    ).toEqual({ total: 30n, complete: true });
    expect(toDecimalString(itemsTotal([{ quantity: 3, unitPrice: '0.10' }]).total)).toBe('0.30');
  });

  it('keeps every digit of the largest totals', () => {
    const line = lineTotal('1000000', '999999999999.99');
    expect(line).toBe(99999999999999000000n);
    const total = itemsTotal(
      Array.from({ length: 100 }, () => ({
        quantity: '1000000',
        unitPrice: '999999999999.99',
      })),
    ).total;
    expect(toDecimalString(total)).toBe('99999999999999000000.00');
  });

  it('leaves out lines that are not valid yet and says so', () => {
    expect(
      itemsTotal([
        { quantity: '2', unitPrice: '10.00' },
        { quantity: 'два', unitPrice: '10.00' },
        { quantity: '1', unitPrice: '' },
      ]),
    ).toEqual({ total: 2000n, complete: false });
  });

  it('formats for Russian and English readers', () => {
    expect(formatMoney(123456789n, 'ru')).toBe('1\u00a0234\u00a0567,89\u00a0₽');
    expect(formatMoney(123456789n, 'en')).toBe('₽1,234,567.89');
    expect(formatMoney(5n, 'ru')).toBe('0,05\u00a0₽');
  });
});
