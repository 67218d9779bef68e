//! The query language people type into the search box.
//!
//! - Plain words must all match (AND), in any form: `ложки` finds "ложка", "ложкой".
//! - `"quoted words"` must appear next to each other in this order (any form of each word).
//!   `«ёлочные»` and `“typographic”` quotes work too; an unclosed quote is ignored.
//! - A trailing `*` searches by prefix: `лож*` finds "ложка", "ложе". The prefix needs at
//!   least two letters; a shorter one is searched as a plain word.
//! - Everything else is punctuation and only separates words: `(`, `:`, `-`, `+`, emoji,
//!   control characters. The words `AND`, `OR` and `NOT` in capitals are ignored, since words
//!   are always combined with AND.
//!
//! Parsing never fails on odd input; it only rejects queries that have no word at all, are
//! longer than [`MAX_QUERY_CHARS`] or have more than [`MAX_QUERY_TERMS`] words.

use tantivy::tokenizer::{TokenStream, Tokenizer};

use crate::analyzer::{WordTokenizer, stem};

/// Longest accepted query, in characters.
pub const MAX_QUERY_CHARS: usize = 1000;
/// Most words a query may have (a phrase counts each of its words).
pub const MAX_QUERY_TERMS: usize = 32;
/// Shortest prefix, in characters, searched as a prefix.
pub const MIN_PREFIX_CHARS: usize = 2;

const OPERATOR_WORDS: [&str; 3] = ["AND", "OR", "NOT"];

fn is_quote(character: char) -> bool {
    matches!(character, '"' | '«' | '»' | '“' | '”' | '„')
}

/// Why a query was rejected; the message is meant for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum QueryError {
    #[error("q must contain at least one word")]
    NoWords,
    #[error("q is too long: at most {MAX_QUERY_CHARS} characters are allowed")]
    TooLong,
    #[error("q has too many words: at most {MAX_QUERY_TERMS} are allowed")]
    TooManyWords,
}

/// One condition a matching document must meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Clause {
    /// Any form of a word: its stem, in any searchable text.
    Word { stem: String },
    /// A word beginning with these normalised (lowercase, unstemmed) letters.
    Prefix { prefix: String },
    /// Words in this order: stems with their positions relative to the first word.
    Phrase { stems: Vec<(usize, String)> },
}

impl Clause {
    fn term_count(&self) -> usize {
        match self {
            Clause::Word { .. } | Clause::Prefix { .. } => 1,
            Clause::Phrase { stems } => stems.len(),
        }
    }
}

/// A parsed query: every clause must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedQuery {
    pub clauses: Vec<Clause>,
}

impl ParsedQuery {
    /// Stems to highlight in snippets (plain words and the words of phrases).
    pub fn stems(&self) -> Vec<&str> {
        let mut stems = Vec::new();
        for clause in &self.clauses {
            match clause {
                Clause::Word { stem } => stems.push(stem.as_str()),
                Clause::Phrase { stems: phrase } => {
                    stems.extend(phrase.iter().map(|(_, stem)| stem.as_str()));
                }
                Clause::Prefix { .. } => {}
            }
        }
        stems
    }

    pub fn prefixes(&self) -> impl Iterator<Item = &str> {
        self.clauses.iter().filter_map(|clause| match clause {
            Clause::Prefix { prefix } => Some(prefix.as_str()),
            _ => None,
        })
    }
}

/// Parses what a person typed; see the module documentation for the syntax.
pub(crate) fn parse(query: &str) -> Result<ParsedQuery, QueryError> {
    if query.chars().nth(MAX_QUERY_CHARS).is_some() {
        return Err(QueryError::TooLong);
    }
    let mut collector = ClauseCollector::default();
    let segments: Vec<&str> = query.split(is_quote).collect();
    // An odd number of quote marks leaves the last quoted segment unclosed.
    let quotes_balanced = segments.len() % 2 == 1;
    for (index, segment) in segments.iter().enumerate() {
        let quoted = index % 2 == 1;
        let unclosed = !quotes_balanced && index == segments.len() - 1;
        if quoted && !unclosed {
            collector.add_phrase(segment)?;
        } else {
            collector.add_words(segment)?;
        }
    }
    collector.finish()
}

#[derive(Default)]
struct ClauseCollector {
    clauses: Vec<Clause>,
    term_count: usize,
    tokenizer: WordTokenizer,
}

impl ClauseCollector {
    fn push(&mut self, clause: Clause) -> Result<(), QueryError> {
        if self.clauses.contains(&clause) {
            return Ok(());
        }
        self.term_count += clause.term_count();
        if self.term_count > MAX_QUERY_TERMS {
            return Err(QueryError::TooManyWords);
        }
        self.clauses.push(clause);
        Ok(())
    }

    /// Normalised words of `text` with their positions.
    fn words(&mut self, text: &str) -> Vec<(usize, String)> {
        let mut stream = self.tokenizer.token_stream(text);
        let mut words = Vec::new();
        while let Some(token) = stream.next() {
            words.push((token.position, token.text.clone()));
        }
        words
    }

    fn add_words(&mut self, segment: &str) -> Result<(), QueryError> {
        for raw_word in segment.split_whitespace() {
            let bare = raw_word.trim_matches(|character: char| !character.is_alphanumeric());
            if OPERATOR_WORDS.contains(&bare) {
                continue;
            }
            let body = raw_word.trim_end_matches('*');
            let starred = body.len() < raw_word.len()
                && body.chars().next_back().is_some_and(char::is_alphanumeric);
            let mut words = self.words(body);
            let prefix = match words.last() {
                Some((_, last)) if starred && last.chars().count() >= MIN_PREFIX_CHARS => {
                    words.pop().map(|(_, prefix)| prefix)
                }
                _ => None,
            };
            for (_, word) in words {
                let stem = stem(&word).into_owned();
                self.push(Clause::Word { stem })?;
            }
            if let Some(prefix) = prefix {
                self.push(Clause::Prefix { prefix })?;
            }
        }
        Ok(())
    }

    fn add_phrase(&mut self, segment: &str) -> Result<(), QueryError> {
        let words = self.words(segment);
        let Some(&(first_position, _)) = words.first() else {
            return Ok(());
        };
        let mut stems: Vec<(usize, String)> = words
            .into_iter()
            .map(|(position, word)| (position - first_position, stem(&word).into_owned()))
            .collect();
        if stems.len() == 1 {
            let (_, stem) = stems.remove(0);
            return self.push(Clause::Word { stem });
        }
        self.push(Clause::Phrase { stems })
    }

    fn finish(self) -> Result<ParsedQuery, QueryError> {
        if self.clauses.is_empty() {
            return Err(QueryError::NoWords);
        }
        Ok(ParsedQuery {
            clauses: self.clauses,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str) -> Clause {
        Clause::Word {
            stem: stem(text).into_owned(),
        }
    }

    fn prefix(text: &str) -> Clause {
        Clause::Prefix {
            prefix: text.to_string(),
        }
    }

    fn clauses(query: &str) -> Vec<Clause> {
        parse(query).expect("query parses").clauses
    }

    #[test]
    fn plain_words_become_stemmed_words() {
        assert_eq!(clauses("Ложки  spoons"), [word("ложка"), word("spoon")]);
    }

    #[test]
    fn repeated_forms_of_a_word_collapse() {
        assert_eq!(clauses("ложка ложки ЛОЖКУ"), [word("ложка")]);
    }

    #[test]
    fn quoted_words_become_a_phrase() {
        assert_eq!(
            clauses(r#"купить "чайные ложки" срочно"#),
            [
                word("купить"),
                Clause::Phrase {
                    stems: vec![
                        (0, stem("чайные").into_owned()),
                        (1, stem("ложки").into_owned())
                    ]
                },
                word("срочно"),
            ]
        );
    }

    #[test]
    fn typographic_quotes_make_phrases() {
        assert!(matches!(
            clauses("«чайные ложки»")[..],
            [Clause::Phrase { .. }]
        ));
    }

    #[test]
    fn a_quoted_single_word_is_a_word() {
        assert_eq!(clauses(r#""ложки""#), [word("ложка")]);
    }

    #[test]
    fn an_unclosed_quote_is_ignored() {
        assert_eq!(clauses(r#"ложки "чайные"#), [word("ложка"), word("чайные")]);
    }

    #[test]
    fn trailing_star_makes_a_prefix() {
        assert_eq!(clauses("лож*"), [prefix("лож")]);
        assert_eq!(clauses("Spo**"), [prefix("spo")]);
        assert_eq!(clauses("ЁЛ*"), [prefix("ел")]);
    }

    #[test]
    fn star_applies_to_the_last_word_of_a_compound() {
        assert_eq!(clauses("wi-fi*"), [word("wi"), prefix("fi")]);
    }

    #[test]
    fn short_or_detached_stars_are_plain_words() {
        assert_eq!(clauses("a*"), [word("a")]);
        assert_eq!(clauses("ложка-*"), [word("ложка")]);
        assert_eq!(clauses("* ложка *"), [word("ложка")]);
    }

    #[test]
    fn operators_and_punctuation_are_ignored() {
        assert_eq!(
            clauses("ложка AND (вилка OR нож) - NOT: +тарелка"),
            [word("ложка"), word("вилка"), word("нож"), word("тарелка")]
        );
        // Lowercase "and" is an ordinary word.
        assert_eq!(clauses("salt and pepper").len(), 3);
    }

    #[test]
    fn queries_without_words_are_rejected() {
        for query in ["", "   ", "\"\"", "* - : ()", "🙂🙂", "\u{0}\u{7}"] {
            assert_eq!(parse(query), Err(QueryError::NoWords), "{query:?}");
        }
    }

    #[test]
    fn long_queries_are_rejected() {
        let longest = format!("ложка{}", " ".repeat(MAX_QUERY_CHARS - 5));
        assert!(parse(&longest).is_ok());
        assert_eq!(parse(&format!("{longest}!")), Err(QueryError::TooLong));
    }

    #[test]
    fn too_many_words_are_rejected() {
        let words: Vec<String> = (0..=MAX_QUERY_TERMS).map(|n| format!("w{n}")).collect();
        assert_eq!(
            parse(&words[..MAX_QUERY_TERMS].join(" ")).map(|parsed| parsed.clauses.len()),
            Ok(MAX_QUERY_TERMS)
        );
        assert_eq!(parse(&words.join(" ")), Err(QueryError::TooManyWords));
    }
}
