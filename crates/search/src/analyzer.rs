//! Text analysis shared by indexing, query parsing and highlighting.
//!
//! Words are split on anything that is not a letter or a digit, lowercased, `ё` is folded into
//! `е`, and stray combining marks (stress marks, decomposed `й`) are normalised. The stemmed
//! analyzer then reduces each word with the Snowball Russian stemmer when it is written in
//! Cyrillic and with the English one when it is written in Latin letters; words that mix
//! scripts, or have no letters, are kept as they are.

use std::borrow::Cow;
use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};
use tantivy::tokenizer::{
    TextAnalyzer, Token, TokenFilter, TokenStream, Tokenizer, TokenizerManager,
};

/// Name of the analyzer for the stemmed (ranking and phrase) fields.
///
/// The version suffix is part of the schema: changing how text is analysed must change it, so
/// that an index built with the old rules is reported as incompatible and rebuilt.
pub(crate) const STEMMED_ANALYZER: &str = "zayavki_ru_en_stemmed_v1";
/// Name of the analyzer for the unstemmed fields used by prefix search.
pub(crate) const PLAIN_ANALYZER: &str = "zayavki_ru_en_plain_v1";

/// Longer "words" are noise (hashes, base64, run-together text) and are not indexed.
pub(crate) const MAX_WORD_BYTES: usize = 64;

static RUSSIAN: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::Russian));
static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// Registers both analyzers under the names the schema refers to.
pub(crate) fn register_analyzers(manager: &TokenizerManager) {
    manager.register(STEMMED_ANALYZER, stemmed_analyzer());
    manager.register(PLAIN_ANALYZER, plain_analyzer());
}

pub(crate) fn stemmed_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(WordTokenizer::default())
        .filter(RussianEnglishStemmer)
        .build()
}

pub(crate) fn plain_analyzer() -> TextAnalyzer {
    TextAnalyzer::from(WordTokenizer::default())
}

/// Reduces a normalised word to its stem, choosing the language by the word's script.
pub(crate) fn stem(word: &str) -> Cow<'_, str> {
    match script_of(word) {
        Script::Cyrillic => fold_fleeting_vowel(RUSSIAN.stem(word)),
        Script::Latin => ENGLISH.stem(word),
        Script::Other => Cow::Borrowed(word),
    }
}

/// Drops the "fleeting" vowel of Russian stems such as `ложек` (genitive plural of `ложка`),
/// `тарелок`, `кресел`, `молоток`: Snowball leaves it in, so these forms would otherwise never
/// meet the other forms of their word (`ложк`, `тарелк`, `кресл`, `молотк`).
///
/// The rule is applied to every Russian stem, in the index and in queries alike, so a word it
/// changes needlessly (`поток` → `потк`) still finds all of its own forms.
fn fold_fleeting_vowel(stem: Cow<'_, str>) -> Cow<'_, str> {
    const MIN_CHARS: usize = 4;
    let mut from_the_end = stem.char_indices().rev();
    let (Some((_, last)), Some((vowel_at, vowel)), Some((_, before))) = (
        from_the_end.next(),
        from_the_end.next(),
        from_the_end.next(),
    ) else {
        return stem;
    };
    let folds = matches!(vowel, 'е' | 'о')
        && matches!(last, 'к' | 'л' | 'н' | 'ц')
        && is_russian_consonant(before)
        && stem.chars().count() >= MIN_CHARS;
    if !folds {
        return stem;
    }
    let mut folded = String::with_capacity(stem.len());
    folded.push_str(&stem[..vowel_at]);
    folded.push(last);
    Cow::Owned(folded)
}

fn is_russian_consonant(character: char) -> bool {
    ('а'..='я').contains(&character) && !"аеиоуыэюяйьъ".contains(character)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    Cyrillic,
    Latin,
    Other,
}

fn script_of(word: &str) -> Script {
    let mut has_cyrillic = false;
    let mut has_latin = false;
    for character in word.chars() {
        if is_cyrillic(character) {
            has_cyrillic = true;
        } else if character.is_ascii_alphabetic() {
            has_latin = true;
        }
    }
    match (has_cyrillic, has_latin) {
        (true, false) => Script::Cyrillic,
        (false, true) => Script::Latin,
        _ => Script::Other,
    }
}

fn is_cyrillic(character: char) -> bool {
    matches!(character, '\u{0400}'..='\u{04FF}')
}

fn is_combining_mark(character: char) -> bool {
    matches!(character, '\u{0300}'..='\u{036F}')
}

const COMBINING_BREVE: char = '\u{0306}';

/// `char::is_alphanumeric`, answered without the Unicode tables for the Russian alphabet.
///
/// Nearly all indexed text is Russian, and the standard library answers quickly only for ASCII:
/// for every other character it searches its tables, which made this check the most expensive
/// step of indexing.
fn is_word_character(character: char) -> bool {
    matches!(character, 'А'..='я' | 'ё' | 'Ё') || character.is_alphanumeric()
}

/// Appends the normalised form of `raw` (one word as written) to `output`.
fn normalize_word_into(raw: &str, output: &mut String) {
    for character in raw.chars() {
        match character {
            // The Russian alphabet apart from "ё", lowercased without the Unicode tables
            // (see `is_word_character`): "А" to "Я" sit exactly 32 code points below "а" to "я".
            'а'..='я' => output.push(character),
            'А'..='Я' => {
                output.push(char::from_u32(u32::from(character) + 32).unwrap_or(character))
            }
            _ if is_combining_mark(character) => {
                // "и" followed by a combining breve is a decomposed "й"; every other mark
                // (stress, the diaeresis of a decomposed "ё", accents) is dropped.
                if character == COMBINING_BREVE && output.ends_with('и') {
                    output.pop();
                    output.push('й');
                }
            }
            _ => {
                for lower in character.to_lowercase() {
                    output.push(if lower == 'ё' { 'е' } else { lower });
                }
            }
        }
    }
}

/// Normalises one word the same way the index does (lowercase, `ё` → `е`, marks folded).
#[cfg(test)]
pub(crate) fn normalize_word(raw: &str) -> String {
    let mut output = String::with_capacity(raw.len());
    normalize_word_into(raw, &mut output);
    output
}

/// Splits text into normalised words (see the module documentation).
#[derive(Clone, Default)]
pub(crate) struct WordTokenizer {
    token: Token,
}

pub(crate) struct WordTokenStream<'a> {
    text: &'a str,
    cursor: usize,
    token: &'a mut Token,
}

impl Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordTokenStream<'a> {
        self.token.reset();
        WordTokenStream {
            text,
            cursor: 0,
            token: &mut self.token,
        }
    }
}

impl WordTokenStream<'_> {
    /// Finds the next word at or after the cursor, as a byte range.
    fn next_word(&mut self) -> Option<(usize, usize)> {
        let rest = &self.text[self.cursor..];
        let (start_in_rest, _) = rest
            .char_indices()
            .find(|(_, character)| is_word_character(*character))?;
        let start = self.cursor + start_in_rest;
        let end = self.text[start..]
            .char_indices()
            .find(|(_, character)| !is_word_character(*character) && !is_combining_mark(*character))
            .map_or(self.text.len(), |(offset, _)| start + offset);
        self.cursor = end;
        Some((start, end))
    }
}

impl TokenStream for WordTokenStream<'_> {
    fn advance(&mut self) -> bool {
        while let Some((start, end)) = self.next_word() {
            self.token.position = self.token.position.wrapping_add(1);
            self.token.text.clear();
            normalize_word_into(&self.text[start..end], &mut self.token.text);
            if self.token.text.len() > MAX_WORD_BYTES {
                continue;
            }
            self.token.offset_from = start;
            self.token.offset_to = end;
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// Token filter that stems Cyrillic words as Russian and Latin words as English.
#[derive(Clone)]
pub(crate) struct RussianEnglishStemmer;

impl TokenFilter for RussianEnglishStemmer {
    type Tokenizer<T: Tokenizer> = RussianEnglishStemmerFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> RussianEnglishStemmerFilter<T> {
        RussianEnglishStemmerFilter { inner: tokenizer }
    }
}

#[derive(Clone)]
pub(crate) struct RussianEnglishStemmerFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for RussianEnglishStemmerFilter<T> {
    type TokenStream<'a> = StemmedTokenStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        StemmedTokenStream {
            tail: self.inner.token_stream(text),
        }
    }
}

pub(crate) struct StemmedTokenStream<T> {
    tail: T,
}

impl<T: TokenStream> TokenStream for StemmedTokenStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        let token = self.tail.token_mut();
        if let Cow::Owned(stemmed) = stem(&token.text) {
            token.text = stemmed;
        }
        // A borrowed stem is the whole word unchanged: nothing to do.
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
        let mut stream = analyzer.token_stream(text);
        let mut words = Vec::new();
        while let Some(token) = stream.next() {
            words.push(token.text.clone());
        }
        words
    }

    fn stems(text: &str) -> Vec<String> {
        tokens(&mut stemmed_analyzer(), text)
    }

    #[test]
    fn splits_on_punctuation_and_lowercases() {
        assert_eq!(
            tokens(&mut plain_analyzer(), "Бумага А4,  (500 листов)!—Ok"),
            ["бумага", "а4", "500", "листов", "ok"]
        );
    }

    #[test]
    fn folds_yo_and_combining_marks() {
        assert_eq!(normalize_word("Ёлка"), "елка");
        assert_eq!(normalize_word("ёлка"), normalize_word("елка"));
        // Decomposed "й" and a stress mark.
        assert_eq!(normalize_word("чаи\u{0306}ник"), "чайник");
        assert_eq!(normalize_word("ло\u{0301}жка"), "ложка");
        assert_eq!(tokens(&mut plain_analyzer(), "ло\u{0301}жка"), ["ложка"]);
    }

    #[test]
    fn shortcuts_agree_with_the_unicode_tables() {
        let cyrillic_and_around = ('\u{0}'..='\u{052F}').chain(['\u{1E9E}', 'İ', 'Σ']);
        for character in cyrillic_and_around {
            assert_eq!(
                is_word_character(character),
                character.is_alphanumeric(),
                "{character:?}"
            );
            if is_combining_mark(character) {
                continue;
            }
            let expected: String = character
                .to_lowercase()
                .map(|lower| if lower == 'ё' { 'е' } else { lower })
                .collect();
            assert_eq!(
                normalize_word(&character.to_string()),
                expected,
                "{character:?}"
            );
        }
    }

    #[test]
    fn russian_forms_share_a_stem() {
        let expected = stems("ложка");
        for form in ["ложки", "ложку", "Ложкой", "ЛОЖКЕ", "ложкам"] {
            assert_eq!(stems(form), expected, "{form}");
        }
        assert_eq!(stems("тарелки"), stems("тарелка"));
        assert_eq!(stems("принтеров"), stems("принтер"));
    }

    #[test]
    fn fleeting_vowel_forms_share_a_stem() {
        for (form, base) in [
            ("ложек", "ложка"),
            ("тарелок", "тарелка"),
            ("ручек", "ручка"),
            ("вилок", "вилка"),
            ("кресел", "кресло"),
            ("молоток", "молотка"),
            ("окон", "окна"),
        ] {
            assert_eq!(stems(form), stems(base), "{form} / {base}");
        }
        // Short stems are left alone.
        assert_eq!(stems("сок"), ["сок"]);
    }

    #[test]
    fn english_forms_share_a_stem() {
        assert_eq!(stems("spoons"), stems("spoon"));
        assert_eq!(stems("stirring"), stems("stir"));
        assert_eq!(stems("Printers"), stems("printer"));
    }

    #[test]
    fn mixed_script_and_numbers_are_kept() {
        assert_eq!(stems("usb3 a4 2024"), ["usb3", "a4", "2024"]);
        assert_eq!(stems("wi-fi"), ["wi", "fi"]);
    }

    #[test]
    fn overlong_words_are_skipped_but_keep_positions() {
        let long_word = "x".repeat(MAX_WORD_BYTES + 1);
        let mut analyzer = plain_analyzer();
        let text = format!("one {long_word} three");
        let mut stream = analyzer.token_stream(&text);
        let mut seen = Vec::new();
        while let Some(token) = stream.next() {
            seen.push((token.text.clone(), token.position));
        }
        assert_eq!(seen, [("one".to_string(), 0), ("three".to_string(), 2)]);
    }
}
