import {
  Alert,
  Button,
  Center,
  Code,
  Group,
  Paper,
  Stack,
  Text,
  Textarea,
  Title,
} from '@mantine/core';
import { type FormEvent, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, useLocation, useNavigate } from 'react-router';
import { ApiError } from '../../lib/api/errors';
import { getJson } from '../../lib/api/http';
import { signIn, useSession } from '../../lib/auth/session';
import { isExpired, readToken } from '../../lib/auth/token';
import { LanguageSwitch } from '../../lib/ui/LanguageSwitch';

/** Sign-in by pasting a token that the start command printed (or `zayavki token` minted). */
export function SignInPage() {
  const { t } = useTranslation();
  const session = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);
  const from = (location.state as { from?: string } | null)?.from ?? '/applications';

  if (session !== null) return <Navigate to={from} replace />;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const user = readToken(token);
    if (user === null) {
      setError(t('auth.notAToken'));
      return;
    }
    if (isExpired(user)) {
      setError(t('auth.expired'));
      return;
    }
    setChecking(true);
    setError(null);
    try {
      // The server is the judge: a token it does not accept signs nobody in.
      await getJson('/applications?pageSize=1', undefined, token.trim());
      signIn(token);
      navigate(from, { replace: true });
    } catch (failure) {
      setError(
        failure instanceof ApiError && failure.status === 401
          ? t('auth.rejected')
          : t('auth.unreachable', { message: failure instanceof Error ? failure.message : '' }),
      );
    } finally {
      setChecking(false);
    }
  };

  return (
    <Center mih="100vh" p="md">
      <Paper withBorder p="lg" w="100%" maw={520}>
        <form onSubmit={(event) => void submit(event)}>
          <Stack>
            <Group justify="space-between">
              <Title order={1} size="h3">
                {t('app.title')}
              </Title>
              <LanguageSwitch />
            </Group>
            <Text size="sm">{t('auth.hint')}</Text>
            <Code block>scripts/start --dev</Code>
            <Textarea
              label={t('auth.token')}
              value={token}
              onChange={(event) => setToken(event.currentTarget.value)}
              autosize
              minRows={3}
              required
              spellCheck={false}
              autoComplete="off"
              error={error !== null}
              data-autofocus
              styles={{ input: { fontFamily: 'monospace', fontSize: 12 } }}
            />
            {error !== null && (
              <Alert color="red" role="alert">
                {error}
              </Alert>
            )}
            <Button type="submit" loading={checking}>
              {t('auth.signIn')}
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
