import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const BASE_URL = (process.env.E2E_BASE_URL ?? 'http://127.0.0.1:8000/app/').replace(
  /\/?$/,
  '/',
);
const here = dirname(fileURLToPath(import.meta.url));
export const SCREENSHOTS = join(here, 'screenshots');

export function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (scripts/web-e2e mints the tokens)`);
  return value;
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export async function newContext(
  browser: Browser,
  viewport = { width: 1280, height: 900 },
): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport, locale: 'ru-RU', acceptDownloads: true });
  context.setDefaultTimeout(20_000);
  return context;
}

export function url(path: string): string {
  return new URL(path.replace(/^\//, ''), BASE_URL).toString();
}

/** Signs in by pasting the token, as a person does. */
export async function signIn(page: Page, token: string): Promise<void> {
  await page.goto(url('signin'));
  await page.getByLabel('Токен (JWT)').fill(token);
  await page.getByRole('button', { name: 'Войти' }).click();
  await page.waitForURL(/\/app\/applications/);
}

/**
 * Saves the whole page. The window is made as tall as the page for the picture (a full-page
 * capture would draw the fixed header where the page happened to be scrolled).
 */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const viewport = page.viewportSize();
  if (viewport === null) throw new Error('the page has no viewport');
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({
    width: viewport.width,
    height: Math.min(Math.max(height, viewport.height), 4000),
  });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
  await page.setViewportSize(viewport);
}

/** Collects what the page logs as errors, to fail on them. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  return errors;
}
