import { Fragment } from 'react';

const ENTITIES: Record<string, string> = {
  '&amp;': '&',
  '&lt;': '<',
  '&gt;': '>',
  '&quot;': '"',
  '&#39;': "'",
  '&#x27;': "'",
  '&apos;': "'",
};

function decode(text: string): string {
  return text.replace(
    /&(?:amp|lt|gt|quot|apos|#39|#x27);/g,
    (entity) => ENTITIES[entity] ?? entity,
  );
}

/**
 * The search snippet as text parts: the server wraps matches in `<b>…</b>` and escapes
 * everything else. Only those marks become elements; any other markup stays text.
 */
export function snippetParts(snippet: string): Array<{ text: string; match: boolean }> {
  const parts: Array<{ text: string; match: boolean }> = [];
  const pattern = /<b>(.*?)<\/b>/g;
  let last = 0;
  for (let found = pattern.exec(snippet); found !== null; found = pattern.exec(snippet)) {
    if (found.index > last)
      parts.push({ text: decode(snippet.slice(last, found.index)), match: false });
    parts.push({ text: decode(found[1] ?? ''), match: true });
    last = found.index + found[0].length;
  }
  if (last < snippet.length) parts.push({ text: decode(snippet.slice(last)), match: false });
  return parts;
}

export function Snippet({ html }: { html: string }) {
  return (
    <span data-testid="snippet">
      {snippetParts(html).map((part, index) =>
        part.match ? (
          // biome-ignore lint/suspicious/noArrayIndexKey: parts never move
          <mark key={index}>{part.text}</mark>
        ) : (
          // biome-ignore lint/suspicious/noArrayIndexKey: parts never move
          <Fragment key={index}>{part.text}</Fragment>
        ),
      )}
    </span>
  );
}
