//! Highlighted snippets for hits.
//!
//! tantivy's `SnippetGenerator` picks the best window of a text and escapes it. It matches
//! tokens against a set of terms, so it is given a tokenizer that turns every word into what
//! the query is looking for: its stem, or a marker when the word starts with one of the
//! query's prefixes. That way both `ложки` (stemmed) and `лож*` (prefix) light up "Ложкой".

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use tantivy::schema::{Field, Value};
use tantivy::snippet::{Snippet, SnippetGenerator};
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};
use tantivy::{Score, TantivyDocument};

use crate::analyzer::{WordTokenStream, WordTokenizer, stem};
use crate::query_language::ParsedQuery;
use crate::schema::Fields;

/// Longest snippet, in characters of the original text (markup and escapes excluded).
pub const SNIPPET_MAX_CHARS: usize = 200;

/// Stands for "a word that starts with one of the prefixes"; cannot be a stem, because
/// stems never contain control characters.
const PREFIX_MATCH: &str = "\u{1}prefix";
const ELLIPSIS: &str = "…";
/// Separates item names when they are highlighted as one text.
const ITEM_SEPARATOR: &str = "; ";

/// Builds snippets for the hits of one query.
pub(crate) struct Highlighter {
    fields: Fields,
    /// Texts to take a snippet from, in order of preference.
    generators: Vec<(Field, SnippetGenerator)>,
}

impl Highlighter {
    pub fn new(parsed: &ParsedQuery, fields: &Fields) -> Highlighter {
        let mut terms: BTreeMap<String, Score> = parsed
            .stems()
            .into_iter()
            .map(|stem| (stem.to_string(), 1.0))
            .collect();
        let prefixes: Arc<[String]> = parsed.prefixes().map(str::to_string).collect();
        if !prefixes.is_empty() {
            terms.insert(PREFIX_MATCH.to_string(), 1.0);
        }
        let analyzer = TextAnalyzer::from(HighlightTokenizer {
            words: WordTokenizer::default(),
            prefixes,
        });
        let generators = [fields.title, fields.description, fields.item_names]
            .into_iter()
            .map(|text| {
                let generator = SnippetGenerator::new(
                    terms.clone(),
                    analyzer.clone(),
                    text.stemmed,
                    SNIPPET_MAX_CHARS,
                );
                (text.stemmed, generator)
            })
            .collect();
        Highlighter {
            fields: *fields,
            generators,
        }
    }

    /// The snippet of the first text (title, description, item names) where a query word
    /// occurs; the beginning of the title when none does (say, only the applicant matched).
    pub fn snippet(&mut self, document: &TantivyDocument) -> String {
        for (field, generator) in &mut self.generators {
            let text = stored_text(document, *field);
            if text.is_empty() {
                continue;
            }
            // The generator measures its window in bytes; scale it so the window holds about
            // SNIPPET_MAX_CHARS characters whether the text is Cyrillic or Latin.
            let window_bytes = SNIPPET_MAX_CHARS * text.len() / text.chars().count().max(1);
            generator.set_max_num_chars(window_bytes.max(SNIPPET_MAX_CHARS));
            let snippet = generator.snippet(&text);
            if !snippet.is_empty() {
                return with_ellipses(&snippet, &text);
            }
        }
        let title = stored_text(document, self.fields.title.stemmed);
        leading_excerpt(&title)
    }
}

/// The stored values of `field`, joined when there are several (item names).
fn stored_text(document: &TantivyDocument, field: Field) -> Cow<'_, str> {
    let mut values = document.get_all(field).filter_map(|value| value.as_str());
    let Some(first) = values.next() else {
        return Cow::Borrowed("");
    };
    let mut rest = values.peekable();
    if rest.peek().is_none() {
        return Cow::Borrowed(first);
    }
    let mut joined = first.to_string();
    for value in rest {
        joined.push_str(ITEM_SEPARATOR);
        joined.push_str(value);
    }
    Cow::Owned(joined)
}

/// The snippet's HTML, with an ellipsis on each side where words of the text were cut off
/// (mere punctuation cut off, like a final full stop, is put back instead).
fn with_ellipses(snippet: &Snippet, text: &str) -> String {
    let fragment = snippet.fragment();
    let html = snippet.to_html();
    let Some(start) = text.find(fragment) else {
        return html;
    };
    let (before, after) = (&text[..start], &text[start + fragment.len()..]);
    let has_words = |part: &str| part.chars().any(char::is_alphanumeric);
    let mut result = String::with_capacity(html.len() + 2 * ELLIPSIS.len());
    if has_words(before) {
        result.push_str(ELLIPSIS);
    } else {
        result.push_str(&escape_html(before.trim_start()));
    }
    result.push_str(&html);
    if has_words(after) {
        result.push_str(ELLIPSIS);
    } else {
        result.push_str(&escape_html(after.trim_end()));
    }
    result
}

/// The first [`SNIPPET_MAX_CHARS`] characters of `text`, cut at a word boundary, escaped.
fn leading_excerpt(text: &str) -> String {
    let Some((cut, _)) = text.char_indices().nth(SNIPPET_MAX_CHARS) else {
        return escape_html(text);
    };
    let head = &text[..cut];
    let head = head
        .rfind(char::is_whitespace)
        .filter(|&space| space > 0)
        .map_or(head, |space| &head[..space]);
    let mut excerpt = escape_html(head.trim_end());
    excerpt.push_str(ELLIPSIS);
    excerpt
}

/// Escapes the same characters as the snippets' own escaping.
pub(crate) fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#x27;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// Emits each word as its stem, or as [`PREFIX_MATCH`] when it starts with a query prefix.
#[derive(Clone)]
struct HighlightTokenizer {
    words: WordTokenizer,
    prefixes: Arc<[String]>,
}

impl Tokenizer for HighlightTokenizer {
    type TokenStream<'a> = HighlightTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> HighlightTokenStream<'a> {
        HighlightTokenStream {
            words: self.words.token_stream(text),
            prefixes: &self.prefixes,
        }
    }
}

struct HighlightTokenStream<'a> {
    words: WordTokenStream<'a>,
    prefixes: &'a [String],
}

impl TokenStream for HighlightTokenStream<'_> {
    fn advance(&mut self) -> bool {
        if !self.words.advance() {
            return false;
        }
        let token = self.words.token_mut();
        if self
            .prefixes
            .iter()
            .any(|prefix| token.text.starts_with(prefix.as_str()))
        {
            token.text.clear();
            token.text.push_str(PREFIX_MATCH);
        } else if let Cow::Owned(stemmed) = stem(&token.text) {
            token.text = stemmed;
        }
        true
    }

    fn token(&self) -> &Token {
        self.words.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.words.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html(r#"<script>alert("x" & 'y')</script>"#),
            "&lt;script&gt;alert(&quot;x&quot; &amp; &#x27;y&#x27;)&lt;/script&gt;"
        );
    }

    #[test]
    fn leading_excerpt_cuts_long_text_at_a_word() {
        let text = "слово ".repeat(100);
        let excerpt = leading_excerpt(&text);
        assert!(excerpt.ends_with(ELLIPSIS));
        assert!(excerpt.chars().count() <= SNIPPET_MAX_CHARS + 1);
        assert!(!excerpt.contains("  "));
        assert_eq!(leading_excerpt("short <b>"), "short &lt;b&gt;");
    }
}
