import { MantineProvider } from '@mantine/core';
import { act, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useTranslation } from 'react-i18next';
import { afterEach, describe, expect, it } from 'vitest';
import { LanguageSwitch } from '../ui/LanguageSwitch';
import i18n, { setLanguage } from '.';
import { en } from './en';
import { ru } from './ru';

function Page() {
  const { t } = useTranslation();
  return (
    <MantineProvider>
      <LanguageSwitch />
      <h1>{t('nav.reports')}</h1>
      <p>{t('csv.created', { count: 5 })}</p>
    </MantineProvider>
  );
}

function keys(value: object, prefix = ''): string[] {
  return Object.entries(value).flatMap(([key, inner]) =>
    typeof inner === 'string' ? [`${prefix}${key}`] : keys(inner as object, `${prefix}${key}.`),
  );
}

describe('language switch', () => {
  afterEach(() => act(() => setLanguage('ru')));

  it('starts in Russian and switches to English and back, remembering the choice', async () => {
    const user = userEvent.setup({ delay: null });
    render(<Page />);
    expect(screen.getByRole('heading')).toHaveTextContent('Отчёты');
    expect(screen.getByText('Создано 5 заявок')).toBeInTheDocument();
    expect(document.documentElement.lang).toBe('ru');

    await user.click(screen.getByText('EN'));
    expect(screen.getByRole('heading')).toHaveTextContent('Reports');
    expect(screen.getByText('5 applications created')).toBeInTheDocument();
    expect(document.documentElement.lang).toBe('en');
    expect(localStorage.getItem('zayavki.language')).toBe('en');

    await user.click(screen.getByText('RU'));
    expect(screen.getByRole('heading')).toHaveTextContent('Отчёты');
    expect(i18n.language).toBe('ru');
  });

  it('has every Russian text in English too', () => {
    expect(keys(en).sort()).toEqual(keys(ru).sort());
    for (const key of keys(en)) expect(i18n.t(key as 'nav.reports', { lng: 'en' })).not.toBe('');
  });

  it('uses the Russian plural forms', () => {
    expect(i18n.t('csv.created', { count: 1, lng: 'ru' })).toBe('Создана 1 заявка');
    expect(i18n.t('csv.created', { count: 3, lng: 'ru' })).toBe('Создано 3 заявки');
    expect(i18n.t('csv.created', { count: 11, lng: 'ru' })).toBe('Создано 11 заявок');
    expect(i18n.t('csv.created', { count: 21, lng: 'ru' })).toBe('Создана 21 заявка');
  });
});
