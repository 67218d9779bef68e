//! Free-text fields. Text is kept exactly as given (Cyrillic, emoji and all), except that titles
//! and item names lose surrounding white space. Characters PostgreSQL cannot store (NUL) and
//! invisible control characters are refused with a clear message instead of failing later.

/// Limits counted in Unicode characters, not bytes.
pub const TITLE_MAX_CHARS: usize = 200;
pub const ITEM_NAME_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;
pub const REASON_MAX_CHARS: usize = 1_000;

/// A required single-line text, trimmed, 1..=`max_chars` characters.
pub fn parse_single_line(raw: &str, max_chars: usize) -> Result<String, String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err("must not be empty".to_owned());
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not contain control characters such as line breaks or NUL".to_owned());
    }
    let length = trimmed.chars().count();
    if length > max_chars {
        return Err(format!(
            "must be at most {max_chars} characters (got {length})"
        ));
    }
    Ok(trimmed.to_owned())
}

/// An optional multi-line text kept byte-for-byte: line breaks and tabs are fine, NUL and other
/// control characters are not. Blank text counts as absent.
pub fn parse_multi_line(raw: Option<&str>, max_chars: usize) -> Result<Option<String>, String> {
    let Some(raw) = raw else { return Ok(None) };
    if raw.trim().is_empty() {
        return Ok(None);
    }
    if raw
        .chars()
        .any(|character| character.is_control() && !matches!(character, '\n' | '\r' | '\t'))
    {
        return Err(
            "must not contain control characters other than line breaks and tabs".to_owned(),
        );
    }
    let length = raw.chars().count();
    if length > max_chars {
        return Err(format!(
            "must be at most {max_chars} characters (got {length})"
        ));
    }
    Ok(Some(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_trims_and_counts_characters_not_bytes() {
        assert_eq!(
            parse_single_line("  Ложки 🥄 ", 200),
            Ok("Ложки 🥄".to_owned())
        );
        assert!(parse_single_line(&"я".repeat(200), 200).is_ok());
        assert!(parse_single_line(&"я".repeat(201), 200).is_err());
        assert!(parse_single_line("   ", 200).is_err());
        assert!(parse_single_line("a\u{0}b", 200).is_err());
        assert!(parse_single_line("a\nb", 200).is_err());
    }

    #[test]
    fn multi_line_keeps_text_exactly() {
        let text = "Строка 1\n\tстрока 2 🙂  ";
        assert_eq!(parse_multi_line(Some(text), 100), Ok(Some(text.to_owned())));
        assert_eq!(parse_multi_line(Some("  "), 100), Ok(None));
        assert!(parse_multi_line(Some("nul\u{0}"), 100).is_err());
        assert!(parse_multi_line(Some(&"x".repeat(101)), 100).is_err());
    }
}
