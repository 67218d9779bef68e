import { Alert } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { useEventsConnection } from '../events/EventsProvider';

/** Says when live updates are not arriving: the WebSocket is down and reconnecting. */
export function ConnectionBanner() {
  const { t } = useTranslation();
  const { state, everOpen } = useEventsConnection();
  const down = state === 'down' || (state === 'connecting' && everOpen);
  if (!down) return null;
  return (
    <Alert color="orange" role="status" data-testid="connection-banner" radius={0}>
      {t('events.down')}
    </Alert>
  );
}
