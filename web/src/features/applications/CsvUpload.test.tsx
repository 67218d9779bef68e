import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderWithProviders } from '../../test/render';
import { CsvUpload } from './CsvUpload';

const CSV = [
  'applicationKey,title,description,itemName,quantity,unitPrice',
  'k1,Бумага,,Бумага А4,10,320.00',
  'k2,Маркеры,,Маркер,много,45.00',
  'k3,Папки,,Папка,20,15.90',
].join('\n');

describe('CsvUpload', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('shows per-row errors before sending, and the server errors after', async () => {
    const fetch = vi.fn(
      async (_request: Request) =>
        new Response(
          JSON.stringify({
            type: 'urn:zayavki:problem:invalid-argument',
            title: 'Invalid request',
            status: 400,
            detail: '1 field is invalid; no application was created.',
            errors: [{ field: 'applications[1].items[0].name', message: 'is not allowed here' }],
          }),
          { status: 400, headers: { 'content-type': 'application/problem+json' } },
        ),
    );
    vi.stubGlobal('fetch', fetch);
    URL.createObjectURL = () => 'blob:sample';
    const user = userEvent.setup({ delay: null });
    renderWithProviders(<CsvUpload />);
    expect(screen.getByText('Скачать пример файла')).toHaveAttribute('href', 'blob:sample');

    const input = document.querySelector('input[type="file"]') as HTMLInputElement;
    await user.upload(input, new File([CSV], 'applications.csv', { type: 'text/csv' }));
    const before = await screen.findByTestId('csv-errors');
    expect(before).toHaveTextContent('3quantityКоличество — целое число от 1 до 1 000 000.');

    await user.click(screen.getByRole('button', { name: 'Отправить 2 заявки' }));
    expect(await screen.findByTestId('csv-outcome')).toHaveTextContent('Создано 0 заявок');
    // applications[1] of the batch is k3 (k2 was left out), its item 0 is on line 4.
    expect(screen.getByTestId('csv-errors')).toHaveTextContent(
      '4itemNameсерверis not allowed here',
    );
    const request = fetch.mock.calls[0]?.[0] as unknown as Request;
    expect(new URL(request.url).pathname).toBe('/applications/batch');
    const body = (await request.json()) as { applications: Array<{ title: string }> };
    expect(body.applications.map((application) => application.title)).toEqual(['Бумага', 'Папки']);
  });
});
