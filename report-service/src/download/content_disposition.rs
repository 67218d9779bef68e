//! `Content-Disposition: attachment` with an ASCII `filename` for old clients and the exact
//! UTF-8 name in `filename*` (RFC 6266, RFC 8187), so «Отчёт.csv» arrives as «Отчёт.csv».

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// RFC 8187 `attr-char`s stay as they are; everything else is percent-encoded.
const ATTR_CHAR_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The header value for downloading a file called `file_name`.
pub fn attachment(file_name: &str) -> String {
    format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{}",
        ascii_fallback(file_name),
        utf8_percent_encode(file_name, ATTR_CHAR_ESCAPES)
    )
}

/// The name with every character a quoted string cannot safely carry replaced by `_`.
fn ascii_fallback(file_name: &str) -> String {
    let fallback: String = file_name
        .chars()
        .map(|character| match character {
            ' '..='~' if character != '"' && character != '\\' => character,
            _ => '_',
        })
        .collect();
    if fallback
        .trim_matches(|character| character == '_' || character == '.')
        .is_empty()
    {
        "report".to_owned()
    } else {
        fallback
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cyrillic_name_has_an_ascii_fallback_and_an_exact_encoded_form() {
        let header = attachment("Отчёт по заявке «Бумага».csv");

        assert_eq!(
            header,
            "attachment; filename=\"_____ __ ______ ________.csv\"; \
             filename*=UTF-8''%D0%9E%D1%82%D1%87%D1%91%D1%82%20%D0%BF%D0%BE%20%D0%B7%D0%B0%D1%8F%D0%B2%D0%BA%D0%B5%20%C2%AB%D0%91%D1%83%D0%BC%D0%B0%D0%B3%D0%B0%C2%BB.csv"
        );
    }

    #[test]
    fn quotes_and_backslashes_never_reach_the_quoted_string() {
        let header = attachment("a\"b\\c.json");

        assert!(
            header.starts_with("attachment; filename=\"a_b_c.json\";"),
            "{header}"
        );
        assert!(
            header.ends_with("filename*=UTF-8''a%22b%5Cc.json"),
            "{header}"
        );
    }
}
