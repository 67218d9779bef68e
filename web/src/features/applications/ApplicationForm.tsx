import { zodResolver } from '@hookform/resolvers/zod';
import {
  ActionIcon,
  Button,
  Group,
  Paper,
  Stack,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useRef } from 'react';
import { type FieldPath, useFieldArray, useForm, useWatch } from 'react-hook-form';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { ApiError, fieldPath } from '../../lib/api/errors';
import { newRequestId } from '../../lib/ids';
import { formatMoney, itemsTotal, lineTotal } from '../../lib/money';
import { ErrorAlert } from '../../lib/ui/ErrorAlert';
import { useCreateApplication } from './api';
import { type ApplicationValues, applicationSchema, emptyItem, toNewApplication } from './schema';

/** The exact total of the items as they are typed. */
export function LiveTotal({ items }: { items: ApplicationValues['items'] }) {
  const { t, i18n } = useTranslation();
  const { total, complete } = itemsTotal(items);
  return (
    <Text fw={600} aria-live="polite" data-testid="live-total">
      {t('form.total')}: {formatMoney(total, i18n.language)}
      {!complete && (
        <Text span size="sm" c="dimmed" fw={400}>
          {' '}
          {t('form.totalIncomplete')}
        </Text>
      )}
    </Text>
  );
}

export function ApplicationForm() {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const create = useCreateApplication();
  // One key per filing, kept across retries of the same form so a repeat creates nothing new.
  const requestId = useRef(newRequestId());
  const form = useForm<ApplicationValues>({
    resolver: zodResolver(applicationSchema),
    defaultValues: { title: '', description: '', items: [{ ...emptyItem }] },
    mode: 'onTouched',
  });
  const { register, control, handleSubmit, formState, setError } = form;
  const items = useFieldArray({ control, name: 'items' });
  const watchedItems = useWatch({ control, name: 'items' }) ?? [];
  const message = (key: string | undefined) => (key ? t(key as 'validation.quantity') : undefined);

  const submit = handleSubmit(async (values) => {
    try {
      const application = await create.mutateAsync({
        application: toNewApplication(values),
        requestId: requestId.current,
      });
      requestId.current = newRequestId();
      navigate(`/applications/${application.id}`);
    } catch (error) {
      if (error instanceof ApiError) {
        for (const field of error.fieldErrors) {
          const path = fieldPath(field.field);
          if (/^(title|description|items(\.\d+(\.(name|quantity|unitPrice))?)?)$/.test(path)) {
            setError(path as FieldPath<ApplicationValues>, { message: field.message });
          }
        }
      }
    }
  });

  return (
    <form onSubmit={submit} noValidate aria-label={t('form.label')}>
      <Stack>
        <TextInput
          label={t('form.title')}
          required
          {...register('title')}
          error={message(formState.errors.title?.message)}
        />
        <Textarea
          label={t('form.description')}
          autosize
          minRows={2}
          {...register('description')}
          error={message(formState.errors.description?.message)}
        />
        <Title order={3} size="h5">
          {t('form.items')}
        </Title>
        {items.fields.map((field, index) => {
          const errors = formState.errors.items?.[index];
          const current = watchedItems[index];
          const amount = current ? lineTotal(current.quantity, current.unitPrice) : null;
          return (
            <Paper key={field.id} withBorder p="sm" data-testid={`item-${index}`}>
              <Group align="flex-start" wrap="wrap" gap="sm">
                <TextInput
                  label={t('form.itemName', { number: index + 1 })}
                  required
                  style={{ flex: '2 1 200px' }}
                  {...register(`items.${index}.name`)}
                  error={message(errors?.name?.message)}
                />
                <TextInput
                  label={t('form.quantity')}
                  required
                  inputMode="numeric"
                  style={{ flex: '1 1 90px' }}
                  {...register(`items.${index}.quantity`)}
                  error={message(errors?.quantity?.message)}
                />
                <TextInput
                  label={t('form.unitPrice')}
                  required
                  inputMode="decimal"
                  placeholder="0.00"
                  style={{ flex: '1 1 120px' }}
                  {...register(`items.${index}.unitPrice`)}
                  error={message(errors?.unitPrice?.message)}
                />
                <Stack gap={2} style={{ flex: '1 1 120px' }}>
                  <Text size="sm" fw={500}>
                    {t('form.amount')}
                  </Text>
                  <Text size="sm">
                    {amount === null ? '—' : formatMoney(amount, i18n.language)}
                  </Text>
                </Stack>
                <ActionIcon
                  variant="subtle"
                  color="red"
                  mt={24}
                  onClick={() => items.remove(index)}
                  aria-label={t('form.removeItem', { number: index + 1 })}
                >
                  ✕
                </ActionIcon>
              </Group>
            </Paper>
          );
        })}
        {formState.errors.items?.message && (
          <Text c="red" size="sm" role="alert">
            {message(formState.errors.items.message)}
          </Text>
        )}
        <Group>
          <Button
            variant="default"
            onClick={() => items.append({ ...emptyItem })}
            disabled={items.fields.length >= 100}
          >
            {t('form.addItem')}
          </Button>
        </Group>
        <LiveTotal items={watchedItems} />
        <ErrorAlert error={create.error} showFields />
        <Group>
          <Button type="submit" loading={formState.isSubmitting}>
            {t('form.submit')}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
