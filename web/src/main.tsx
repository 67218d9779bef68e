import '@mantine/core/styles.css';
import '@mantine/notifications/styles.css';
import './lib/i18n';
import { MantineProvider } from '@mantine/core';
import { Notifications, notifications } from '@mantine/notifications';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './App';
import { ApiError } from './lib/api/errors';
import { handleUnauthenticated } from './lib/api/http';
import { signOut } from './lib/auth/session';
import { EventsProvider } from './lib/events/EventsProvider';
import i18n from './lib/i18n';
import { theme } from './lib/ui/theme';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      // A refused call is not retried; a network failure or a 5xx is, a little.
      retry: (count, error) =>
        count < 2 && !(error instanceof ApiError && error.status >= 400 && error.status < 500),
    },
  },
});

handleUnauthenticated(() => {
  signOut();
  queryClient.clear();
  notifications.show({ color: 'orange', message: i18n.t('auth.sessionEnded') });
});

const root = document.getElementById('root');
if (root === null) throw new Error('no #root element');
createRoot(root).render(
  <StrictMode>
    <MantineProvider theme={theme}>
      <Notifications position="top-right" limit={5} />
      <QueryClientProvider client={queryClient}>
        <EventsProvider>
          <App />
        </EventsProvider>
      </QueryClientProvider>
    </MantineProvider>
  </StrictMode>,
);
