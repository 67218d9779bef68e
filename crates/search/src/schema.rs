//! The tantivy schema and the handles of its fields.
//!
//! Each searchable text exists twice: a stemmed copy with positions (ranking and phrases) and
//! an unstemmed copy with document ids only (prefix search, where a stem would cut the prefix
//! short: `stirr*` must find "stirring", whose stem is "stir").

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STRING, Schema, TextFieldIndexing, TextOptions,
};

use crate::analyzer::{PLAIN_ANALYZER, STEMMED_ANALYZER};

pub(crate) const ID_HIGH_FIELD: &str = "id_high";
pub(crate) const ID_LOW_FIELD: &str = "id_low";

/// Relative weight of a match in each text, applied on top of BM25.
const TITLE_BOOST: f32 = 3.0;
const ITEM_NAMES_BOOST: f32 = 1.5;
const DESCRIPTION_BOOST: f32 = 1.0;
const APPLICANT_BOOST: f32 = 1.0;

/// A searchable text: its stemmed and its prefix field, and how much a match in it counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextField {
    pub stemmed: Field,
    pub prefix: Field,
    pub boost: f32,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Fields {
    /// The id as 16 bytes, indexed so that a document can be replaced by deleting its id.
    pub id: Field,
    /// The id as two fast u64 halves, read while ranking to order ties and build page tokens.
    pub id_high: Field,
    pub id_low: Field,
    pub title: TextField,
    pub description: TextField,
    pub item_names: TextField,
    pub applicant: TextField,
    /// The applicant verbatim, for the ownership filter.
    pub applicant_exact: Field,
    pub status: Field,
    /// Microseconds since the Unix epoch; a fast field, so range filters are exact.
    pub applied_at: Field,
}

impl Fields {
    /// The searchable texts, most important first.
    pub fn texts(&self) -> [TextField; 4] {
        [
            self.title,
            self.item_names,
            self.description,
            self.applicant,
        ]
    }
}

fn stemmed_text(stored: bool) -> TextOptions {
    let options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(STEMMED_ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    if stored {
        options.set_stored()
    } else {
        options
    }
}

fn prefix_text() -> TextOptions {
    TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(PLAIN_ANALYZER)
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    )
}

pub(crate) fn build_schema() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let mut text = |name: &str, stored: bool, boost: f32| TextField {
        stemmed: builder.add_text_field(name, stemmed_text(stored)),
        prefix: builder.add_text_field(&format!("{name}_prefix"), prefix_text()),
        boost,
    };
    let title = text("title", true, TITLE_BOOST);
    let description = text("description", true, DESCRIPTION_BOOST);
    let item_names = text("item_names", true, ITEM_NAMES_BOOST);
    let applicant = text("applicant", false, APPLICANT_BOOST);
    let fields = Fields {
        id: builder.add_bytes_field("id", INDEXED),
        id_high: builder.add_u64_field(ID_HIGH_FIELD, FAST),
        id_low: builder.add_u64_field(ID_LOW_FIELD, FAST),
        title,
        description,
        item_names,
        applicant,
        applicant_exact: builder.add_text_field("applicant_exact", STRING),
        status: builder.add_text_field("status", STRING),
        applied_at: builder.add_i64_field("applied_at", FAST),
    };
    (builder.build(), fields)
}
