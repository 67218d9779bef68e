// Money as exact minor units (kopecks) in a bigint: amounts are never floating point numbers.

/** The server's rule for unit prices: up to 12 integer digits and up to 2 fraction digits. */
export const UNIT_PRICE_PATTERN = /^[0-9]{1,12}(\.[0-9]{1,2})?$/;
/** Amounts as the server returns them ("12.50"). */
const AMOUNT_PATTERN = /^[0-9]+(\.[0-9]{1,2})?$/;

/** Minor units of a decimal string, or null when it is not a valid amount. */
export function parseAmount(text: string): bigint | null {
  const trimmed = text.trim();
  if (!AMOUNT_PATTERN.test(trimmed)) return null;
  const [whole = '0', fraction = ''] = trimmed.split('.');
  return BigInt(whole) * 100n + BigInt(fraction.padEnd(2, '0'));
}

/** Minor units of a unit price written as the server accepts it, or null. */
export function parseUnitPrice(text: string): bigint | null {
  return UNIT_PRICE_PATTERN.test(text.trim()) ? parseAmount(text) : null;
}

/** quantity × unit price in minor units, or null when either is not valid. */
export function lineTotal(quantity: string | number, unitPrice: string): bigint | null {
  const count = typeof quantity === 'number' ? String(quantity) : quantity.trim();
  if (!/^[0-9]{1,7}$/.test(count)) return null;
  const price = parseUnitPrice(unitPrice);
  return price === null ? null : BigInt(count) * price;
}

/** The exact total of the lines that are valid, and whether every line was. */
export function itemsTotal(
  items: ReadonlyArray<{ quantity: string | number; unitPrice: string }>,
): {
  total: bigint;
  complete: boolean;
} {
  let total = 0n;
  let complete = true;
  for (const item of items) {
    const amount = lineTotal(item.quantity, item.unitPrice);
    if (amount === null) complete = false;
    else total += amount;
  }
  return { total, complete };
}

/** "1234.50": the decimal string of minor units, as the API writes amounts. */
export function toDecimalString(minor: bigint): string {
  const sign = minor < 0n ? '-' : '';
  const absolute = minor < 0n ? -minor : minor;
  const whole = absolute / 100n;
  const fraction = (absolute % 100n).toString().padStart(2, '0');
  return `${sign}${whole}.${fraction}`;
}

/** Minor units shown for people: "1 234,50 ₽" in Russian, "₽1,234.50" in English. */
export function formatMoney(minor: bigint, language: string): string {
  const [whole = '0', fraction = '00'] = toDecimalString(minor).split('.');
  const negative = whole.startsWith('-');
  const digits = negative ? whole.slice(1) : whole;
  const russian = language.startsWith('ru');
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, russian ? '\u00a0' : ',');
  const sign = negative ? '−' : '';
  return russian ? `${sign}${grouped},${fraction}\u00a0₽` : `${sign}₽${grouped}.${fraction}`;
}

/** A server amount ("12.50") shown for people; the text itself when it is not an amount. */
export function formatAmount(amount: string, language: string): string {
  const minor = parseAmount(amount);
  return minor === null ? amount : formatMoney(minor, language);
}
