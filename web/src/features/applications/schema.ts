import { z } from 'zod';
import type { NewApplication } from '../../lib/api/rest';
import { UNIT_PRICE_PATTERN } from '../../lib/money';

// One schema for what a person types in the form and what a CSV row holds (both are text): the
// server's rules, so most mistakes are shown before anything is sent. Messages are i18n keys.

const VISIBLE = /\S/;

export const itemSchema = z.object({
  name: z
    .string()
    .refine((value) => VISIBLE.test(value), 'validation.itemNameRequired')
    .refine((value) => value.trim().length <= 200, 'validation.itemNameLength'),
  quantity: z.string().refine((value) => {
    const trimmed = value.trim();
    return /^[0-9]{1,7}$/.test(trimmed) && Number(trimmed) >= 1 && Number(trimmed) <= 1_000_000;
  }, 'validation.quantity'),
  unitPrice: z.string().trim().regex(UNIT_PRICE_PATTERN, 'validation.unitPrice'),
});

export const applicationSchema = z.object({
  title: z
    .string()
    .refine((value) => VISIBLE.test(value), 'validation.titleRequired')
    .refine((value) => [...value.trim()].length <= 200, 'validation.titleLength'),
  description: z.string().refine((value) => [...value].length <= 10_000, 'validation.description'),
  items: z.array(itemSchema).max(100, 'validation.itemsCount'),
});

export type ItemValues = z.input<typeof itemSchema>;
export type ApplicationValues = z.input<typeof applicationSchema>;

export const emptyItem: ItemValues = { name: '', quantity: '1', unitPrice: '' };

/** The request body of valid form values. */
export function toNewApplication(values: ApplicationValues): NewApplication {
  const description = values.description.trim() === '' ? null : values.description;
  return {
    title: values.title.trim(),
    description,
    items: values.items.map((item) => ({
      name: item.name.trim(),
      quantity: Number(item.quantity.trim()),
      unitPrice: item.unitPrice.trim(),
    })),
  };
}
