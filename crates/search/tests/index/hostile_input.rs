use zayavki_search::{
    ApplicationDocument, MAX_QUERY_CHARS, SearchError, SearchRequest, sample_data,
};

use crate::helpers::{index_with, request};

fn distinct_prefixes(count: usize) -> String {
    (0..count).map(|n| format!("ab{n}* ")).collect()
}

fn hostile_queries() -> Vec<String> {
    let mut queries: Vec<String> = [
        "",
        " ",
        "\t\n\r",
        "\"",
        "\"\"",
        "\"\"\"",
        "\"ложки",
        "ложки\"",
        "\"ложки\" \"",
        "«",
        "»ложки«",
        ":",
        "title:ложки",
        "title:",
        ":ложки:",
        "(",
        ")",
        "((ложки)",
        "[ложки TO вилки]",
        "{}",
        "-",
        "- -",
        "-ложки",
        "+",
        "+ложки",
        "!",
        "~",
        "ложки~2",
        "ложки^10",
        "^",
        "AND",
        "OR",
        "NOT",
        "AND OR NOT",
        "ложки AND",
        "OR ложки",
        "ложки NOT вилки",
        "&&",
        "||",
        "*",
        "**",
        "*ложки",
        "лож**",
        "л*",
        "*:*",
        "?",
        "лож?а",
        "\\",
        "\\\"",
        "/regex/",
        "'",
        "''",
        "%",
        "%25",
        "';DROP TABLE applications;--",
        "<script>alert(1)</script>",
        "&amp;",
        "\u{0}",
        "ложки\u{0}вилки",
        "\u{7}\u{8}\u{1b}[31m",
        "\u{200b}",
        "\u{feff}ложки",
        "\u{202e}ижол",
        "🙂",
        "🙂ложки🙂",
        "👩‍👩‍👧‍👦",
        "ло\u{301}жки",
        "и\u{306}",
        "\u{301}\u{301}\u{301}",
        "ß",
        "İstanbul",
        "ﬁ",
        "日本語",
        "العربية",
        "Ω≈ç√∫",
        "0",
        "-1",
        "1e309",
        "NaN",
        "null",
        "undefined",
    ]
    .into_iter()
    .map(str::to_string)
    .collect();
    queries.push("ложки ".repeat(40));
    queries.push("а".repeat(MAX_QUERY_CHARS));
    queries.push("а".repeat(MAX_QUERY_CHARS + 1));
    queries.push("ложки ".repeat(2_000));
    queries.push("x".repeat(10 * 1024));
    queries.push("\"".repeat(999));
    queries.push("(".repeat(999));
    queries.push("*".repeat(999));
    queries.push("a* ".repeat(300));
    queries.push(distinct_prefixes(32));
    queries.push(distinct_prefixes(33));
    queries.push(format!("\"{}\"", "ложки вилки ".repeat(20)));
    queries.push("🙂".repeat(MAX_QUERY_CHARS));
    queries.push((0..=255u8).map(char::from).collect());
    queries.push(
        (0x400..0x500)
            .filter_map(char::from_u32)
            .collect::<String>(),
    );
    queries
}

#[test]
fn odd_queries_are_searched_or_rejected_without_panicking() {
    let documents: Vec<ApplicationDocument> =
        sample_data::generate_realistic_documents(300, 11).collect();
    let index = index_with(documents);
    let mut rejected = 0;
    for query in hostile_queries() {
        let shown: String = query.chars().take(40).collect();
        for page_size in [1, 20] {
            let hostile = SearchRequest {
                page_size,
                ..request(&query)
            };
            match index.search(&hostile) {
                Ok(page) => {
                    assert!(page.hits.len() <= page_size);
                    // Follow one more page to exercise the token path too.
                    if let Some(token) = page.next_page_token {
                        let next = SearchRequest {
                            page_token: Some(token),
                            ..hostile.clone()
                        };
                        assert!(index.search(&next).is_ok(), "second page of {shown:?}");
                    }
                }
                Err(SearchError::InvalidQuery(message)) => {
                    assert!(!message.is_empty());
                    assert!(message.starts_with("q "), "unclear message {message:?}");
                    rejected += 1;
                }
                Err(other) => panic!("query {shown:?} failed: {other:?}"),
            }
        }
    }
    assert!(rejected > 0);
}

#[test]
fn blank_and_wordless_queries_say_why() {
    let index = index_with(Vec::new());
    for query in ["", "   ", "\"\"", "-", "🙂", "AND OR"] {
        match index.search(&request(query)) {
            Err(SearchError::InvalidQuery(message)) => {
                assert_eq!(message, "q must contain at least one word");
            }
            other => panic!("{query:?}: expected InvalidQuery, got {other:?}"),
        }
    }
}

#[test]
fn overlong_queries_say_why() {
    let index = index_with(Vec::new());
    match index.search(&request(&"ложки ".repeat(2_000))) {
        Err(SearchError::InvalidQuery(message)) => assert!(message.contains("too long")),
        other => panic!("expected InvalidQuery, got {other:?}"),
    }
    match index.search(&request(&distinct_prefixes(33))) {
        Err(SearchError::InvalidQuery(message)) => assert!(message.contains("too many words")),
        other => panic!("expected InvalidQuery, got {other:?}"),
    }
}

#[test]
fn odd_text_is_indexed_without_panicking() {
    let titles = hostile_queries();
    let documents: Vec<ApplicationDocument> = titles
        .iter()
        .enumerate()
        .map(|(number, title)| ApplicationDocument {
            description: Some(title.repeat(3)),
            item_names: vec![title.clone(), String::new()],
            applicant: title.clone(),
            ..crate::helpers::application(number as u128, title)
        })
        .collect();
    let index = index_with(documents);
    assert_eq!(index.document_count(), titles.len() as u64);
    let page = crate::helpers::page(&index, &request("ложки"));
    assert!(!page.hits.is_empty());
}
