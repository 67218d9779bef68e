import { Alert, List } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../api/errors';

/** What went wrong with a call, for people; field errors listed when the form cannot show them. */
export function ErrorAlert({
  error,
  showFields = false,
}: {
  error: unknown;
  showFields?: boolean;
}) {
  const { t } = useTranslation();
  if (error === null || error === undefined) return null;
  const apiError = error instanceof ApiError ? error : null;
  const title =
    apiError === null
      ? t('errors.network')
      : apiError.status === 429
        ? t('errors.throttled', { seconds: apiError.retryAfterSeconds ?? 1 })
        : t('errors.status', { status: apiError.status });
  return (
    <Alert color="red" title={title} role="alert">
      {error instanceof Error ? error.message : String(error)}
      {showFields && apiError !== null && apiError.fieldErrors.length > 0 && (
        <List size="sm" mt="xs">
          {apiError.fieldErrors.map((field) => (
            <List.Item key={`${field.field}-${field.message}`}>
              <code>{field.field}</code>: {field.message}
            </List.Item>
          ))}
        </List>
      )}
    </Alert>
  );
}
