import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launch, newContext, requiredEnv, screenshot, signIn, url, watchErrors } from './browser';

// The whole app against the running system, through the gateway: an applicant (alice) and an
// operator (olga), each in a browser context of their own.

const applicantToken = requiredEnv('E2E_APPLICANT_TOKEN');
const operatorToken = requiredEnv('E2E_OPERATOR_TOKEN');
const applicantSubject = process.env.E2E_APPLICANT_SUBJECT ?? 'alice';
// The start command's state file (`$ZAYAVKI_STATE_DIR/zayavki.json`): which process is which.
const stateFile = requiredEnv('E2E_STATE_FILE');

// A word no other application has, so searches find only this run's applications.
const run = `e2e${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;

/** The pid of one of the system's services, from the start command's state file. */
function serviceProcess(name: string): number {
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as {
    services: Array<{ name: string; pid: number }>;
  };
  const service = state.services.find((candidate) => candidate.name === name);
  if (service === undefined) throw new Error(`${name} is not in ${stateFile}`);
  return service.pid;
}

let browser: Browser;
let applicant: BrowserContext;
let operator: BrowserContext;
let pageErrors: string[] = [];

interface NewItem {
  name: string;
  quantity: string;
  unitPrice: string;
}

/** Fills the form like a person and files it; answers the new application's id. */
async function fileApplication(
  page: Page,
  title: string,
  items: NewItem[],
  description = '',
): Promise<string> {
  await page.goto(url('applications/new'));
  await page.getByLabel('Название').fill(title);
  if (description) await page.getByLabel('Описание').fill(description);
  for (const [index, item] of items.entries()) {
    if (index > 0) await page.getByRole('button', { name: 'Добавить позицию' }).click();
    const row = page.getByTestId(`item-${index}`);
    await row.getByLabel(`Позиция ${index + 1}`).fill(item.name);
    await row.getByLabel('Количество').fill(item.quantity);
    await row.getByLabel('Цена за единицу').fill(item.unitPrice);
  }
  await page.getByRole('button', { name: 'Подать заявку' }).click();
  await page.waitForURL(/\/app\/applications\/[0-9a-f-]{36}$/);
  return page.url().split('/').at(-1) ?? '';
}

async function statusOf(page: Page, applicationId: string) {
  return page.locator(`[data-application-id="${applicationId}"] [data-status]`);
}

beforeAll(async () => {
  browser = await launch();
  applicant = await newContext(browser);
  operator = await newContext(browser);
});

afterAll(async () => {
  await browser?.close();
});

describe('zayavki web app', () => {
  let completedId = '';
  let awaitingId = '';

  it('signs in with a pasted token and shows who signed in, in Russian or English', async () => {
    const page = await applicant.newPage();
    pageErrors = watchErrors(page);
    await page.goto(url('applications'));
    await page.waitForURL(/\/app\/signin/);
    await screenshot(page, '01-sign-in');
    await page.getByLabel('Токен (JWT)').fill('not a token');
    await page.getByRole('button', { name: 'Войти' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('JWT');

    await signIn(page, applicantToken);
    const user = page.getByTestId('current-user');
    await expect.poll(() => user.textContent()).toContain(applicantSubject);
    expect(await user.textContent()).toContain('заявитель');

    await page.getByText('EN', { exact: true }).click();
    await page.getByRole('heading', { name: 'Applications', level: 2 }).waitFor();
    await page.getByText('RU', { exact: true }).click();
    await page.getByRole('heading', { name: 'Заявки', level: 2 }).waitFor();
    // This tab stays open: new tabs of the same browser session get the session from it.
  });

  it('files an application and watches it turn COMPLETED live in a word-form search', async () => {
    // One tab searches for a word form of the title before the application exists.
    const searchPage = await applicant.newPage();
    const frames: string[] = [];
    searchPage.on('websocket', (socket) =>
      socket.on('framereceived', (frame) => frames.push(String(frame.payload))),
    );
    await searchPage.goto(url(`applications?q=${encodeURIComponent(`степлер ${run}`)}`));
    await searchPage.getByText('Ничего не найдено.').waitFor();
    await searchPage.evaluate(() => {
      (window as unknown as { notReloaded: boolean }).notReloaded = true;
    });

    // Another tab files it: the total follows the items exactly.
    const formPage = await applicant.newPage();
    await formPage.goto(url('applications/new'));
    await formPage.getByLabel('Название').fill(`Степлеры для отдела ${run}`);
    const first = formPage.getByTestId('item-0');
    await first.getByLabel('Позиция 1').fill('Степлер настольный');
    await first.getByLabel('Количество').fill('3');
    await first.getByLabel('Цена за единицу').fill('0.1');
    await formPage.getByRole('button', { name: 'Добавить позицию' }).click();
    const second = formPage.getByTestId('item-1');
    await second.getByLabel('Позиция 2').fill('Скобы №10');
    await second.getByLabel('Количество').fill('7');
    await second.getByLabel('Цена за единицу').fill('0.2');
    // 3 × 0.10 + 7 × 0.20 = 1.70 exactly (in floating point 0.30000000000000004 + 1.4000000000000001).
    await expect.poll(() => formPage.getByTestId('live-total').textContent()).toContain('1,70');
    await second.getByLabel('Цена за единицу').fill('12.5x');
    await second.getByLabel('Количество').click();
    await formPage.getByText('Цена — число с точкой').waitFor();
    await second.getByLabel('Цена за единицу').fill('120.20');
    await expect.poll(() => formPage.getByTestId('live-total').textContent()).toContain('841,70');
    await screenshot(formPage, '03-new-application');
    await formPage.getByRole('button', { name: 'Подать заявку' }).click();
    await formPage.waitForURL(/\/app\/applications\/[0-9a-f-]{36}$/);
    completedId = formPage.url().split('/').at(-1) ?? '';

    // The search tab shows it, highlighted, and sees it complete without a reload.
    const row = searchPage.locator(`[data-application-id="${completedId}"]`);
    await row.waitFor({ timeout: 30_000 }).catch(async (error) => {
      await screenshot(searchPage, 'failed-search');
      throw new Error(`${error}; frames: ${frames.join('\n')}`);
    });
    expect(await row.locator('mark').count()).toBeGreaterThan(0);
    await expect
      .poll(async () => (await statusOf(searchPage, completedId)).getAttribute('data-status'), {
        timeout: 30_000,
      })
      .toBe('COMPLETED');
    expect(
      await searchPage.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded),
    ).toBe(true);
    await screenshot(searchPage, '02-applications-search');
    await searchPage.close();

    // The application page followed too, with the process history and the budget.
    await formPage
      .locator('[data-testid="application-status"] [data-status="COMPLETED"]')
      .waitFor();
    await formPage.getByText('Одобрена автоматически').waitFor();
    await formPage.getByTestId('budget').waitFor();
    await formPage.close();
  });

  it('receives the purchase report of the completed application and downloads it', async () => {
    const page = await applicant.newPage();
    await page.goto(url(`applications/${completedId}`));
    const link = page.getByTestId('purchase-report-download');
    await link.waitFor({ timeout: 60_000 });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const path = await download.path();
    const content = await readFile(path, 'utf8');
    expect(content).toContain(`Степлеры для отдела ${run}`);
    expect(content).toContain('841.70');
    await screenshot(page, '04-application');
    // Deep links survive a reload.
    await page.reload();
    await page.getByRole('heading', { name: `Степлеры для отдела ${run}` }).waitFor();
    await page.close();
  });

  it('files one above the auto-approve limit, and an operator approves it', async () => {
    const page = await applicant.newPage();
    awaitingId = await fileApplication(page, `Монитор для дизайнера ${run}`, [
      { name: 'Монитор 27"', quantity: '1', unitPrice: '1500.00' },
    ]);
    await page
      .locator('[data-testid="process-state"]')
      .filter({ hasText: 'Ждёт решения' })
      .waitFor({
        timeout: 30_000,
      });

    const operatorPage = await operator.newPage();
    await signIn(operatorPage, operatorToken);
    await operatorPage.goto(url('queue'));
    const queued = operatorPage.locator(`[data-application-id="${awaitingId}"]`);
    await queued.waitFor();
    await screenshot(operatorPage, '05-queue');
    await queued.getByRole('link').click();
    await operatorPage.getByTestId('decision').waitFor();
    await operatorPage.getByLabel('Комментарий').fill('Согласовано');
    await operatorPage.getByRole('button', { name: 'Одобрить' }).click();
    await operatorPage
      .locator('[data-testid="application-status"] [data-status="COMPLETED"]')
      .waitFor({ timeout: 30_000 });
    await operatorPage.getByText('Оператор одобрил').waitFor();
    await operatorPage.close();

    // The applicant's open page follows the operator's decision live.
    await page
      .locator('[data-testid="application-status"] [data-status="COMPLETED"]')
      .waitFor({ timeout: 30_000 });
    await page.close();
  });

  it('requests a summary report and sees it arrive', async () => {
    const page = await applicant.newPage();
    await page.goto(url('reports'));
    await page.getByRole('button', { name: 'Заказать отчёт' }).click();
    await page.getByText('Отчёт заказан').waitFor();
    const newest = page.locator('[data-testid="reports-table"] tbody tr').first();
    await expect
      .poll(async () => newest.textContent(), { timeout: 30_000 })
      .toContain('Сводка по заявкам');
    await expect
      .poll(async () => newest.getAttribute('data-status'), { timeout: 60_000 })
      .toBe('COMPLETED');
    await page.getByText('Отчёт готов').first().waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      newest.getByRole('link', { name: /Скачать/ }).click(),
    ]);
    const content = await readFile(await download.path(), 'utf8');
    expect(content).toContain(`Степлеры для отдела ${run}`);
    await screenshot(page, '06-reports');
    await page.close();
  });

  it('cancels an application with a reason', async () => {
    const page = await applicant.newPage();
    const id = await fileApplication(page, `Кресло ${run}`, [
      { name: 'Кресло офисное', quantity: '1', unitPrice: '2000.00' },
    ]);
    await page
      .locator('[data-testid="process-state"]')
      .filter({ hasText: 'Ждёт решения' })
      .waitFor({
        timeout: 30_000,
      });
    await page.getByRole('button', { name: 'Отменить заявку' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Причина').fill('Купили по другой заявке');
    await dialog.getByRole('button', { name: 'Отменить заявку' }).click();
    await page
      .locator('[data-testid="application-status"] [data-status="CANCELLED"]')
      .waitFor({ timeout: 30_000 });
    await page.getByText('Купили по другой заявке').waitFor();
    expect(id).not.toBe('');
    await page.close();
  });

  it('uploads a CSV, shows the bad row before sending and files the others', async () => {
    const page = await applicant.newPage();
    await page.goto(url('applications/new'));
    await page.getByRole('tab', { name: 'Загрузка CSV' }).click();
    const csv = [
      'applicationKey,title,description,itemName,quantity,unitPrice',
      `k1,Бумага ${run},,Бумага А4,10,320.00`,
      `k1,Бумага ${run},,Бумага А3,2,610.50`,
      `k2,Маркеры ${run},,Маркер,много,45.00`,
      `k3,Папки ${run},"Синие, 20 шт",Папка-скоросшиватель,20,15.90`,
    ].join('\n');
    await page.locator('input[type="file"]').setInputFiles({
      name: 'applications.csv',
      mimeType: 'text/csv',
      buffer: Buffer.from(csv, 'utf8'),
    });
    const errors = page.getByTestId('csv-errors');
    await errors.waitFor();
    const errorText = await errors.textContent();
    expect(errorText).toContain('4');
    expect(errorText).toContain('quantity');
    await page.getByRole('button', { name: 'Отправить 2 заявки' }).click();
    const outcome = page.getByTestId('csv-outcome');
    await outcome.waitFor({ timeout: 30_000 });
    expect(await outcome.textContent()).toContain('Создано 2 заявки');
    await screenshot(page, '07-csv-upload');
    await page.close();
  });

  it('says when the event connection is down and reconnects by itself', async () => {
    const page = await applicant.newPage();
    await page.goto(url('applications'));
    await page.getByRole('heading', { name: 'Заявки', level: 2 }).waitFor();
    // report-service (the WebSocket's server) stops; the start command starts it again.
    const reportService = serviceProcess('report-service');
    process.kill(reportService, 'SIGTERM');
    await page.getByTestId('connection-banner').waitFor({ timeout: 15_000 });
    await screenshot(page, '10-connection-down');
    await page.getByText('Связь восстановлена').waitFor({ timeout: 60_000 });
    await page.getByTestId('connection-banner').waitFor({ state: 'detached' });
    expect(serviceProcess('report-service')).not.toBe(reportService);
    await page.close();
  });

  it('fits a 360 px wide screen', async () => {
    const narrow = await newContext(browser, { width: 360, height: 740 });
    const page = await narrow.newPage();
    await signIn(page, applicantToken);
    await page.getByRole('heading', { name: 'Заявки', level: 2 }).waitFor();
    const overflow = await page.evaluate(
      () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, '08-applications-360px');
    await page.getByRole('button', { name: 'Меню' }).click();
    await page.getByRole('link', { name: 'Отчёты' }).click();
    await page.getByRole('heading', { name: 'Отчёты', level: 2 }).waitFor();
    await screenshot(page, '09-reports-360px');
    await narrow.close();
  });

  it('raised no errors in the pages', () => {
    expect(pageErrors).toEqual([]);
  });
});
