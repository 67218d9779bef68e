import Papa from 'papaparse';
import type { FieldError } from '../../lib/api/errors';
import type { NewApplication } from '../../lib/api/rest';
import { type ApplicationValues, applicationSchema, itemSchema, toNewApplication } from './schema';

// CSV upload: one row per item, `applicationKey,title,description,itemName,quantity,unitPrice`;
// rows sharing an applicationKey form one application (its title and description are taken
// from its first row). Validation happens per row, before anything is sent.

export const CSV_COLUMNS = [
  'applicationKey',
  'title',
  'description',
  'itemName',
  'quantity',
  'unitPrice',
] as const;

/** The largest batch the server takes; bigger files are sent in several batches. */
export const BATCH_LIMIT = 1000;

/** A problem on one line of the file (line 1 is the header), as an i18n key with values. */
export interface RowError {
  line: number;
  column: string;
  message: string;
  params?: Record<string, string | number>;
  /** From the server's answer (after sending) rather than from the check before. */
  fromServer?: boolean;
}

export interface PlannedApplication {
  key: string;
  /** Every line of the application, in file order. */
  lines: number[];
  /** The line of each item, in the order of `application.items`. */
  itemLines: number[];
  application: NewApplication;
}

export interface CsvPlan {
  /** Lines with data (the header not counted). */
  rowCount: number;
  /** Applications whose every line is valid, in order of first appearance. */
  valid: PlannedApplication[];
  /** Keys of applications left out because a line of theirs has an error. */
  invalidKeys: string[];
  errors: RowError[];
}

type Row = Record<string, string | undefined>;

/** Reads the CSV text and checks every row. */
export function planCsv(text: string): CsvPlan {
  const parsed = Papa.parse<Row>(text.replace(/^\uFEFF/, ''), {
    header: true,
    skipEmptyLines: 'greedy',
    transformHeader: (header) => header.trim(),
  });
  const errors: RowError[] = [];
  const header = parsed.meta.fields ?? [];
  const missing = CSV_COLUMNS.filter((column) => !header.includes(column));
  if (missing.length > 0) {
    return {
      rowCount: parsed.data.length,
      valid: [],
      invalidKeys: [],
      errors: [{ line: 1, column: missing.join(', '), message: 'csv.missingColumns', params: {} }],
    };
  }
  for (const problem of parsed.errors) {
    // Papa's row index counts data rows from 0; line 1 is the header.
    if (problem.row !== undefined && problem.code !== 'UndetectableDelimiter') {
      errors.push({
        line: problem.row + 2,
        column: '',
        message: 'csv.malformed',
        params: { detail: problem.message },
      });
    }
  }

  interface Group {
    key: string;
    values: ApplicationValues;
    lines: number[];
    itemLines: number[];
    broken: boolean;
  }
  const groups = new Map<string, Group>();
  parsed.data.forEach((row, index) => {
    const line = index + 2;
    const cell = (column: (typeof CSV_COLUMNS)[number]) => row[column] ?? '';
    const key = cell('applicationKey').trim();
    if (key === '') {
      errors.push({ line, column: 'applicationKey', message: 'csv.keyRequired' });
      return;
    }
    let group = groups.get(key);
    if (group === undefined) {
      group = {
        key,
        values: { title: cell('title'), description: cell('description'), items: [] },
        lines: [],
        itemLines: [],
        broken: false,
      };
      groups.set(key, group);
      const header = applicationSchema.pick({ title: true, description: true }).safeParse({
        title: cell('title'),
        description: cell('description'),
      });
      if (!header.success) {
        for (const issue of header.error.issues) {
          errors.push({ line, column: String(issue.path[0]), message: issue.message });
        }
        group.broken = true;
      }
    } else if (cell('title').trim() !== '' && cell('title').trim() !== group.values.title.trim()) {
      errors.push({ line, column: 'title', message: 'csv.titleDiffers', params: { key } });
      group.broken = true;
    }
    group.lines.push(line);
    const item = {
      name: cell('itemName'),
      quantity: cell('quantity'),
      unitPrice: cell('unitPrice'),
    };
    const noItem = [item.name, item.quantity, item.unitPrice].every((value) => value.trim() === '');
    if (noItem) return;
    const checked = itemSchema.safeParse(item);
    if (!checked.success) {
      for (const issue of checked.error.issues) {
        const column = { name: 'itemName', quantity: 'quantity', unitPrice: 'unitPrice' }[
          String(issue.path[0]) as 'name'
        ];
        errors.push({ line, column: column ?? '', message: issue.message });
      }
      group.broken = true;
      return;
    }
    group.values.items.push(item);
    group.itemLines.push(line);
    if (group.values.items.length > 100) {
      errors.push({ line, column: 'itemName', message: 'validation.itemsCount' });
      group.broken = true;
    }
  });

  const brokenLines = new Set(errors.map((error) => error.line));
  const valid: PlannedApplication[] = [];
  const invalidKeys: string[] = [];
  for (const group of groups.values()) {
    if (group.broken || group.lines.some((line) => brokenLines.has(line))) {
      invalidKeys.push(group.key);
      continue;
    }
    valid.push({
      key: group.key,
      lines: group.lines,
      itemLines: group.itemLines,
      application: toNewApplication(group.values),
    });
  }
  errors.sort((a, b) => a.line - b.line);
  return { rowCount: parsed.data.length, valid, invalidKeys, errors };
}

/** Splits the applications into batches the server accepts. */
export function batches<T>(applications: T[], size = BATCH_LIMIT): T[][] {
  const result: T[][] = [];
  for (let start = 0; start < applications.length; start += size) {
    result.push(applications.slice(start, start + size));
  }
  return result;
}

const BATCH_FIELD = /^applications\[(\d+)\](?:\.(.*))?$/;
const ITEM_FIELD = /^items\[(\d+)\]\.(\w+)$/;
const COLUMN_OF_FIELD: Record<string, string> = {
  title: 'title',
  description: 'description',
  name: 'itemName',
  quantity: 'quantity',
  unitPrice: 'unitPrice',
};

/**
 * The server's field errors of a rejected batch, on the lines they came from:
 * `applications[3].items[0].unitPrice` is the line of item 0 of the batch's fourth application.
 */
export function serverErrorsOnLines(batch: PlannedApplication[], fields: FieldError[]): RowError[] {
  const errors: RowError[] = [];
  for (const { field, message } of fields) {
    const match = BATCH_FIELD.exec(field);
    const planned = match ? batch[Number(match[1])] : undefined;
    if (!match || planned === undefined) {
      for (const line of batch.flatMap((application) => application.lines)) {
        errors.push({
          line,
          column: field,
          message: 'csv.server',
          params: { message },
          fromServer: true,
        });
      }
      continue;
    }
    const rest = match[2] ?? '';
    const item = ITEM_FIELD.exec(rest);
    if (item) {
      const line = planned.itemLines[Number(item[1])] ?? planned.lines[0] ?? 0;
      const column = COLUMN_OF_FIELD[item[2] ?? ''] ?? rest;
      errors.push({ line, column, message: 'csv.server', params: { message }, fromServer: true });
    } else {
      const column = COLUMN_OF_FIELD[rest] ?? rest;
      errors.push({
        line: planned.lines[0] ?? 0,
        column,
        message: 'csv.server',
        params: { message },
        fromServer: true,
      });
    }
  }
  return errors;
}

export const SAMPLE_CSV = `${CSV_COLUMNS.join(',')}
a1,Канцелярия для отдела продаж,Ежемесячная закупка,Бумага А4 (пачка),10,320.00
a1,Канцелярия для отдела продаж,,Ручки шариковые,50,12.50
a2,Картриджи для принтера,"HP LaserJet, 2 этаж",Картридж 85A,2,2490.00
a3,Стулья в переговорную,,Стул офисный,4,5300.00
`;
