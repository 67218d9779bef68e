/** A timestamp for people, in the browser's time zone. */
export function formatDateTime(value: string | Date | undefined | null, language: string): string {
  if (value === undefined || value === null || value === '') return '—';
  const date = typeof value === 'string' ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) return String(value);
  return new Intl.DateTimeFormat(language.startsWith('ru') ? 'ru-RU' : 'en-GB', {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(date);
}

/** A file size for people. */
export function formatBytes(bytes: number | undefined, language: string): string {
  if (bytes === undefined) return '—';
  const units = language.startsWith('ru') ? ['Б', 'КиБ', 'МиБ', 'ГиБ'] : ['B', 'KiB', 'MiB', 'GiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Today as `YYYY-MM-DD` in UTC, the form the APIs take for whole days. */
export function utcDay(date: Date = new Date()): string {
  return date.toISOString().slice(0, 10);
}

/** The current month as `YYYY-MM` (UTC). */
export function utcMonth(date: Date = new Date()): string {
  return date.toISOString().slice(0, 7);
}
