import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import { en } from './en';
import { ru } from './ru';

declare module 'i18next' {
  interface CustomTypeOptions {
    defaultNS: 'translation';
    resources: { translation: typeof ru };
  }
}

const STORAGE_KEY = 'zayavki.language';
export const LANGUAGES = ['ru', 'en'] as const;

function storedLanguage(): string {
  try {
    const stored = localStorage.getItem(STORAGE_KEY);
    return stored === 'en' ? 'en' : 'ru';
  } catch {
    return 'ru';
  }
}

void i18n.use(initReactI18next).init({
  resources: { ru: { translation: ru }, en: { translation: en } },
  lng: storedLanguage(),
  fallbackLng: 'ru',
  supportedLngs: [...LANGUAGES],
  interpolation: { escapeValue: false },
  returnNull: false,
});

function reflect(language: string): void {
  if (typeof document !== 'undefined') document.documentElement.lang = language;
}
reflect(i18n.language);
i18n.on('languageChanged', reflect);

/** Switches the language (Russian first) and remembers the choice in this browser. */
export function setLanguage(language: string): void {
  const chosen = language === 'en' ? 'en' : 'ru';
  try {
    localStorage.setItem(STORAGE_KEY, chosen);
  } catch {
    // The choice then lasts until the page is closed.
  }
  void i18n.changeLanguage(chosen);
}

export default i18n;
