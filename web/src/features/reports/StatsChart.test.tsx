import { describe, expect, it } from 'vitest';
import { chartRows } from './StatsChart';

describe('chartRows', () => {
  it('makes one row per day with a count per status, days in order', () => {
    expect(
      chartRows([
        { day: '2025-03-14', status: 'CANCELLED', count: 1, totalAmount: '717.50' },
        { day: '2025-03-13', status: 'NEW', count: 2, totalAmount: '1435.00' },
        { day: '2025-03-13', status: 'COMPLETED', count: 3, totalAmount: '1234.50' },
      ]),
    ).toEqual([
      { day: '2025-03-13', NEW: 2, COMPLETED: 3 },
      { day: '2025-03-14', CANCELLED: 1 },
    ]);
  });
});
