import { Stack, Tabs, Title } from '@mantine/core';
import { useTranslation } from 'react-i18next';
import { ApplicationForm } from './ApplicationForm';
import { CsvUpload } from './CsvUpload';

export function NewApplicationPage() {
  const { t } = useTranslation();
  return (
    <Stack>
      <Title order={2}>{t('form.pageTitle')}</Title>
      <Tabs defaultValue="form" keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="form">{t('form.tabForm')}</Tabs.Tab>
          <Tabs.Tab value="csv">{t('form.tabCsv')}</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="form" pt="md">
          <ApplicationForm />
        </Tabs.Panel>
        <Tabs.Panel value="csv" pt="md">
          <CsvUpload />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}
