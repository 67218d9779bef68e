import { render } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { Snippet, snippetParts } from './snippet';

describe('search snippets', () => {
  it('turns only the server marks into highlights and unescapes the rest as text', () => {
    expect(snippetParts('Закупка … <b>Ложки</b> &amp; &lt;вилки&gt;')).toEqual([
      { text: 'Закупка … ', match: false },
      { text: 'Ложки', match: true },
      { text: ' & <вилки>', match: false },
    ]);
  });

  it('never renders markup from the text', () => {
    const { container } = render(
      <Snippet html={'<b>стол</b> &lt;img src=x onerror=alert(1)&gt; <script>x</script>'} />,
    );
    expect(container.querySelectorAll('mark')).toHaveLength(1);
    expect(container.querySelector('img')).toBeNull();
    expect(container.querySelector('script')).toBeNull();
    expect(container.textContent).toContain('<img src=x onerror=alert(1)>');
  });
});
