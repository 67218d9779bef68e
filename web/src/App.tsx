import { Loader, Stack, Text, Title } from '@mantine/core';
import { lazy, type ReactNode, Suspense } from 'react';
import { useTranslation } from 'react-i18next';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router';
import { ApplicationsPage } from './features/applications/ApplicationsPage';
import { SignInPage } from './features/auth/SignInPage';
import { useSession, useSessionSettled } from './lib/auth/session';
import { Layout } from './lib/ui/Layout';

// Pages other than the list load when first opened (the chart library only with the reports).
const ApplicationPage = lazy(() =>
  import('./features/applications/ApplicationPage').then((module) => ({
    default: module.ApplicationPage,
  })),
);
const NewApplicationPage = lazy(() =>
  import('./features/applications/NewApplicationPage').then((module) => ({
    default: module.NewApplicationPage,
  })),
);
const QueuePage = lazy(() =>
  import('./features/queue/QueuePage').then((module) => ({ default: module.QueuePage })),
);
const ReportsPage = lazy(() =>
  import('./features/reports/ReportsPage').then((module) => ({ default: module.ReportsPage })),
);

function Page({ children }: { children: ReactNode }) {
  const { t } = useTranslation();
  return <Suspense fallback={<Loader aria-label={t('common.loading')} />}>{children}</Suspense>;
}

function RequireSession({ children }: { children: ReactNode }) {
  const session = useSession();
  const settled = useSessionSettled();
  const location = useLocation();
  if (session === null && !settled) return null;
  if (session === null) {
    return (
      <Navigate to="/signin" replace state={{ from: `${location.pathname}${location.search}` }} />
    );
  }
  return children;
}

function NotFound() {
  const { t } = useTranslation();
  return (
    <Stack>
      <Title order={2}>{t('notFound.title')}</Title>
      <Text>{t('notFound.text')}</Text>
    </Stack>
  );
}

export function AppRoutes() {
  return (
    <Routes>
      <Route path="/signin" element={<SignInPage />} />
      <Route
        element={
          <RequireSession>
            <Layout />
          </RequireSession>
        }
      >
        <Route index element={<Navigate to="/applications" replace />} />
        <Route path="applications" element={<ApplicationsPage />} />
        <Route
          path="applications/new"
          element={
            <Page>
              <NewApplicationPage />
            </Page>
          }
        />
        <Route
          path="applications/:id"
          element={
            <Page>
              <ApplicationPage />
            </Page>
          }
        />
        <Route
          path="queue"
          element={
            <Page>
              <QueuePage />
            </Page>
          }
        />
        <Route
          path="reports"
          element={
            <Page>
              <ReportsPage />
            </Page>
          }
        />
        <Route path="*" element={<NotFound />} />
      </Route>
    </Routes>
  );
}

export function App() {
  return (
    <BrowserRouter basename={import.meta.env.BASE_URL.replace(/\/$/, '')}>
      <AppRoutes />
    </BrowserRouter>
  );
}
