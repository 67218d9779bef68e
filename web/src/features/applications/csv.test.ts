import { describe, expect, it } from 'vitest';
import { BATCH_LIMIT, batches, planCsv, SAMPLE_CSV, serverErrorsOnLines } from './csv';

const HEADER = 'applicationKey,title,description,itemName,quantity,unitPrice';

describe('CSV upload', () => {
  it('groups rows by applicationKey into applications with their items', () => {
    const plan = planCsv(SAMPLE_CSV);
    expect(plan.errors).toEqual([]);
    expect(plan.rowCount).toBe(4);
    expect(plan.valid.map((planned) => planned.key)).toEqual(['a1', 'a2', 'a3']);
    const [first] = plan.valid;
    expect(first?.lines).toEqual([2, 3]);
    expect(first?.application).toEqual({
      title: 'Канцелярия для отдела продаж',
      description: 'Ежемесячная закупка',
      items: [
        { name: 'Бумага А4 (пачка)', quantity: 10, unitPrice: '320.00' },
        { name: 'Ручки шариковые', quantity: 50, unitPrice: '12.50' },
      ],
    });
    expect(plan.valid[1]?.application.description).toBe('HP LaserJet, 2 этаж');
  });

  it('names the line and column of every bad row and leaves its application out', () => {
    const csv = [
      HEADER,
      'k1,Бумага,,Бумага А4,10,320.00',
      'k2,Маркеры,,Маркер,много,45.00',
      'k2,Маркеры,,Маркер толстый,1,45.001',
      'k3,,,Папка,1,10',
      ',Без ключа,,Ручка,1,1',
    ].join('\r\n');
    const plan = planCsv(`\uFEFF${csv}`);
    expect(plan.valid.map((planned) => planned.key)).toEqual(['k1']);
    expect(plan.invalidKeys).toEqual(['k2', 'k3']);
    expect(plan.errors.map(({ line, column, message }) => ({ line, column, message }))).toEqual([
      { line: 3, column: 'quantity', message: 'validation.quantity' },
      { line: 4, column: 'unitPrice', message: 'validation.unitPrice' },
      { line: 5, column: 'title', message: 'validation.titleRequired' },
      { line: 6, column: 'applicationKey', message: 'csv.keyRequired' },
    ]);
  });

  it('refuses a file without the expected columns', () => {
    const plan = planCsv('key,name\n1,x\n');
    expect(plan.valid).toEqual([]);
    expect(plan.errors[0]).toMatchObject({ line: 1, message: 'csv.missingColumns' });
    expect(plan.errors[0]?.column).toContain('applicationKey');
  });

  it('reads quoted fields with commas, quotes and line breaks', () => {
    const csv = `${HEADER}\nq1,"Стулья, 4 шт","Сказали ""срочно""\nк пятнице",Стул,4,5300\n`;
    const plan = planCsv(csv);
    expect(plan.errors).toEqual([]);
    expect(plan.valid[0]?.application).toMatchObject({
      title: 'Стулья, 4 шт',
      description: 'Сказали "срочно"\nк пятнице',
    });
  });

  it('splits more than 1,000 applications into batches the server accepts', () => {
    const rows = Array.from(
      { length: 2501 },
      (_, index) => `k${index},Заявка ${index},,Ручка,1,1.00`,
    );
    const plan = planCsv([HEADER, ...rows].join('\n'));
    expect(plan.valid).toHaveLength(2501);
    expect(batches(plan.valid).map((batch) => batch.length)).toEqual([
      BATCH_LIMIT,
      BATCH_LIMIT,
      501,
    ]);
  });

  it('puts the server errors of a rejected batch on the lines they came from', () => {
    const plan = planCsv(
      [
        HEADER,
        'a,Первая,,Ручка,1,1.00',
        'b,Вторая,,Карандаш,1,1.00',
        'b,Вторая,,Ластик,2,3.00',
      ].join('\n'),
    );
    const errors = serverErrorsOnLines(plan.valid, [
      { field: 'applications[1].items[1].unitPrice', message: 'too expensive' },
      { field: 'applications[0].title', message: 'not allowed' },
    ]);
    expect(errors.map(({ line, column }) => ({ line, column }))).toEqual([
      { line: 4, column: 'unitPrice' },
      { line: 2, column: 'title' },
    ]);
    expect(errors.every((error) => error.fromServer)).toBe(true);
  });
});
