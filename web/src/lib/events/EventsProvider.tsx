import { Anchor, Stack, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useContext, useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { apiUrl } from '../api/http';
import { useSession } from '../auth/session';
import { applyPushEvent } from './cache';
import { type ConnectionState, EventStream, eventsUrl, type PushEvent } from './stream';

interface EventsState {
  state: ConnectionState;
  /** Whether the connection was ever open in this session (a first failure is also "down"). */
  everOpen: boolean;
}

const EventsContext = createContext<EventsState>({ state: 'stopped', everOpen: false });

export function useEventsConnection(): EventsState {
  return useContext(EventsContext);
}

/** Holds the session's WebSocket: keeps the cache fresh and tells about finished reports. */
export function EventsProvider({ children }: { children: ReactNode }) {
  const session = useSession();
  const client = useQueryClient();
  const { t } = useTranslation();
  const [connection, setConnection] = useState<EventsState>({ state: 'stopped', everOpen: false });
  // The handlers see the current language and user without reconnecting.
  const handlers = useRef({ t, subject: session?.user.subject ?? null });
  handlers.current = { t, subject: session?.user.subject ?? null };
  const token = session?.token ?? null;

  useEffect(() => {
    if (token === null) return;
    const notify = (event: PushEvent) => {
      const { t, subject } = handlers.current;
      if (event.owner !== undefined && event.owner !== subject) return;
      if (event.type === 'report.completed') {
        const href = typeof event.downloadUrl === 'string' ? event.downloadUrl : null;
        notifications.show({
          id: `report-${String(event.reportId)}`,
          color: 'teal',
          title: t('events.reportReady'),
          autoClose: 30_000,
          message: href ? (
            <Anchor href={apiUrl(href)} download data-testid="report-ready-download">
              {t('events.download', { format: String(event.format ?? '') })}
            </Anchor>
          ) : (
            t('events.reportReadyInList')
          ),
        });
      } else if (event.type === 'report.failed') {
        notifications.show({
          id: `report-${String(event.reportId)}`,
          color: 'red',
          title: t('events.reportFailed'),
          message: String(event.reason ?? ''),
        });
      }
    };
    const stream = new EventStream({
      url: eventsUrl(),
      token,
      onEvent: (event) => {
        applyPushEvent(client, event);
        notify(event);
      },
      onStateChange: (state) =>
        setConnection((previous) => ({ state, everOpen: previous.everOpen || state === 'open' })),
      onResumed: (missed) => {
        const { t } = handlers.current;
        notifications.show({
          color: 'blue',
          title: t('events.reconnected'),
          message:
            missed.length === 0 ? (
              t('events.nothingMissed')
            ) : (
              <Stack gap={2}>
                <Text size="sm">{t('events.missed', { count: missed.length })}</Text>
                {missed.slice(0, 5).map((event) => (
                  <Text size="xs" key={event.id ?? `${event.type}-${event.at}`}>
                    {describeEvent(event, t)}
                  </Text>
                ))}
              </Stack>
            ),
        });
      },
    });
    stream.start();
    const online = () => stream.reconnectNow();
    window.addEventListener('online', online);
    return () => {
      window.removeEventListener('online', online);
      stream.stop();
      setConnection({ state: 'stopped', everOpen: false });
    };
  }, [token, client]);

  return <EventsContext.Provider value={connection}>{children}</EventsContext.Provider>;
}

type Translate = ReturnType<typeof useTranslation>['t'];

/** One line about an event, for the list of what was missed. */
export function describeEvent(event: PushEvent, t: Translate): string {
  switch (event.type) {
    case 'application.status_changed':
      return t('events.statusChanged', {
        title: String(event.title ?? ''),
        status: t(`status.${String(event.status)}` as 'status.NEW'),
      });
    case 'report.completed':
      return t('events.reportReady');
    case 'report.failed':
      return t('events.reportFailed');
    case 'report.progress':
      return t('events.reportProgress', { percent: Number(event.percent ?? 0) });
    default:
      return event.type;
  }
}
