import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { renderWithProviders } from '../../test/render';
import { ApplicationForm } from './ApplicationForm';

describe('ApplicationForm', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('shows the exact total while items are typed', async () => {
    const user = userEvent.setup({ delay: null });
    renderWithProviders(<ApplicationForm />);
    const first = screen.getByTestId('item-0');
    await user.type(within(first).getByLabelText(/Позиция 1/), 'Ложка');
    await user.clear(within(first).getByLabelText(/Количество/));
    await user.type(within(first).getByLabelText(/Количество/), '3');
    await user.type(within(first).getByLabelText(/Цена за единицу/), '0.1');
    await user.click(screen.getByRole('button', { name: 'Добавить позицию' }));
    const second = screen.getByTestId('item-1');
    await user.type(within(second).getByLabelText(/Позиция 2/), 'Вилка');
    await user.type(within(second).getByLabelText(/Цена за единицу/), '0.2');
    // 3 × 0.1 + 1 × 0.2 = 0.50, where floating point says 0.5000000000000001.
    expect(screen.getByTestId('live-total')).toHaveTextContent('Итого: 0,50 ₽');

    await user.type(within(second).getByLabelText(/Цена за единицу/), '5x');
    expect(screen.getByTestId('live-total')).toHaveTextContent(
      'Итого: 0,30 ₽ (без строк с ошибками)',
    );
  });

  it('shows the server field errors at their fields', async () => {
    const fetch = vi.fn(
      async (_request: Request) =>
        new Response(
          JSON.stringify({
            type: 'urn:zayavki:problem:invalid-argument',
            title: 'Invalid request',
            status: 400,
            detail: '2 fields are invalid.',
            errors: [
              { field: 'title', message: 'must not contain control characters' },
              { field: 'items[0].unitPrice', message: 'is too large for this budget line' },
            ],
          }),
          { status: 400, headers: { 'content-type': 'application/problem+json' } },
        ),
    );
    vi.stubGlobal('fetch', fetch);
    const user = userEvent.setup({ delay: null });
    renderWithProviders(<ApplicationForm />);
    await user.type(screen.getByLabelText(/Название/), 'Ложки');
    const first = screen.getByTestId('item-0');
    await user.type(within(first).getByLabelText(/Позиция 1/), 'Ложка');
    await user.type(within(first).getByLabelText(/Цена за единицу/), '12.50');
    await user.click(screen.getByRole('button', { name: 'Подать заявку' }));

    expect(await screen.findByText('must not contain control characters')).toBeInTheDocument();
    const price = within(first).getByLabelText(/Цена за единицу/);
    expect(price).toHaveAttribute('aria-invalid', 'true');
    expect(within(first).getAllByText('is too large for this budget line').length).toBeGreaterThan(
      0,
    );
    const request = fetch.mock.calls[0]?.[0] as unknown as Request;
    expect(request.method).toBe('POST');
    expect(request.headers.get('Idempotency-Key')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await request.json()).toEqual({
      title: 'Ложки',
      description: null,
      items: [{ name: 'Ложка', quantity: 1, unitPrice: '12.50' }],
    });
  });
});
