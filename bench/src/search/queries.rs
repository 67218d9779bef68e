//! What the benchmark searches for: words and phrases that occur in the generated corpus
//! (item names, titles, descriptions), in Russian and English, common and rarer ones.

/// The three shapes of query the benchmark measures separately.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryKind {
    /// One word, in any grammatical form.
    OneWord,
    /// Two words, both required, anywhere in the application.
    TwoWords,
    /// A quoted phrase: the words next to each other, in order.
    Phrase,
}

const ONE_WORD: &[&str] = &[
    "ложка",
    "принтер",
    "бумага",
    "monitor",
    "стул",
    "клавиатура",
    "чайник",
    "кофе",
    "степлер",
    "keyboard",
    "тарелки",
    "ноутбук",
    "chair",
    "мыло",
    "папка",
    "kettle",
];

const TWO_WORDS: &[&str] = &[
    "чайная ложка",
    "офисная бумага",
    "картридж принтера",
    "wireless keyboard",
    "стул офисный",
    "кружка керамическая",
    "жёсткий диск",
    "paper towels",
    "мешки мусора",
    "стол письменный",
    "чай чёрный",
    "office chair",
];

const PHRASES: &[&str] = &[
    "\"бумага офисная\"",
    "\"ложка чайная\"",
    "\"wireless keyboard\"",
    "\"жёсткий диск\"",
    "\"office chair\"",
    "\"мешки для мусора\"",
    "\"кресло руководителя\"",
    "\"paper towels\"",
    "\"чайник электрический\"",
    "\"laser multifunction printer\"",
    "\"ручка шариковая\"",
    "\"бумага туалетная\"",
];

impl QueryKind {
    pub const ALL: [QueryKind; 3] = [QueryKind::OneWord, QueryKind::TwoWords, QueryKind::Phrase];

    pub fn label(self) -> &'static str {
        match self {
            QueryKind::OneWord => "1 word",
            QueryKind::TwoWords => "2 words",
            QueryKind::Phrase => "phrase",
        }
    }

    /// The queries of this kind, as typed into the search box.
    pub fn texts(self) -> &'static [&'static str] {
        match self {
            QueryKind::OneWord => ONE_WORD,
            QueryKind::TwoWords => TWO_WORDS,
            QueryKind::Phrase => PHRASES,
        }
    }

    /// The `call`-th query of a run: the list, round and round.
    pub fn text(self, call: usize) -> &'static str {
        let texts = self.texts();
        texts[call % texts.len()]
    }
}
