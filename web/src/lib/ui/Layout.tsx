import { AppShell, Badge, Burger, Button, Group, NavLink, Stack, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { useTranslation } from 'react-i18next';
import { Link, Outlet, useLocation, useNavigate } from 'react-router';
import { isApplicant, isOperator, signOut, useSession } from '../auth/session';
import { ConnectionBanner } from './ConnectionBanner';
import { LanguageSwitch } from './LanguageSwitch';

/** The frame of every signed-in page: header with the user, navigation, the connection banner. */
export function Layout() {
  const { t } = useTranslation();
  const session = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const [opened, { toggle, close }] = useDisclosure(false);
  if (session === null) return null;
  const { user } = session;

  const links = [
    { to: '/applications', label: t('nav.applications'), show: true },
    { to: '/applications/new', label: t('nav.newApplication'), show: isApplicant(user) },
    { to: '/queue', label: t('nav.queue'), show: isOperator(user) },
    { to: '/reports', label: t('nav.reports'), show: true },
  ].filter((link) => link.show);

  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="xs" wrap="nowrap">
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label={t('nav.menu')}
            />
            <Title order={1} size="h4">
              {t('app.title')}
            </Title>
          </Group>
          <Group gap="xs" wrap="nowrap">
            <LanguageSwitch />
            <Button
              variant="default"
              size="xs"
              onClick={() => {
                signOut();
                navigate('/signin');
              }}
            >
              {t('auth.signOut')}
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="sm" aria-label={t('nav.label')}>
        <Stack gap={4} mb="md" data-testid="current-user">
          <Text fw={600} size="sm">
            {user.name ?? user.subject}
          </Text>
          {user.name !== null && (
            <Text size="xs" c="dimmed">
              {user.subject}
            </Text>
          )}
          <Group gap={4}>
            {user.roles.map((role) => (
              <Badge key={role} size="xs" variant="outline">
                {t(`roles.${role}`)}
              </Badge>
            ))}
          </Group>
        </Stack>
        <nav>
          {links.map((link) => (
            <NavLink
              key={link.to}
              component={Link}
              to={link.to}
              active={location.pathname === link.to}
              aria-current={location.pathname === link.to ? 'page' : undefined}
              label={link.label}
              onClick={close}
            />
          ))}
        </nav>
      </AppShell.Navbar>
      <AppShell.Main>
        <ConnectionBanner />
        <Outlet />
      </AppShell.Main>
    </AppShell>
  );
}
