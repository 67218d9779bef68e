use zayavki_search::{ApplicationDocument, SNIPPET_MAX_CHARS};

use crate::helpers::{application, index_with, page, request};

fn snippet(document: ApplicationDocument, query: &str) -> String {
    let index = index_with(vec![document]);
    let hits = page(&index, &request(query)).hits;
    assert_eq!(hits.len(), 1, "query {query:?}");
    hits[0].snippet.clone()
}

/// The snippet's text without markup or entities, to measure it.
fn visible_text(html: &str) -> String {
    html.replace("<b>", "")
        .replace("</b>", "")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
}

#[test]
fn matched_words_are_bold() {
    assert_eq!(
        snippet(application(1, "Ложки чайные"), "ложка"),
        "<b>Ложки</b> чайные"
    );
    assert_eq!(
        snippet(application(1, "Stirring spoons"), "stir spoon"),
        "<b>Stirring</b> <b>spoons</b>"
    );
}

#[test]
fn prefix_and_phrase_matches_are_bold() {
    assert_eq!(
        snippet(application(1, "Мешать ложкой"), "лож*"),
        "Мешать <b>ложкой</b>"
    );
    assert_eq!(
        snippet(application(1, "Чайные ложки, 6 шт."), r#""чайная ложка""#),
        "<b>Чайные</b> <b>ложки</b>, 6 шт."
    );
}

#[test]
fn everything_else_is_escaped() {
    let html = snippet(
        application(1, r#"<script>alert("x")</script> Ложки & вилки"#),
        "ложки",
    );
    assert_eq!(
        html,
        "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; <b>Ложки</b> &amp; вилки"
    );
    let html = snippet(application(1, "<b>Ложки</b>"), "ложки");
    assert_eq!(html, "&lt;b&gt;<b>Ложки</b>&lt;/b&gt;");
}

#[test]
fn the_title_is_preferred_then_description_then_items() {
    let document = ApplicationDocument {
        description: Some("Ложки для офиса и вилки".into()),
        item_names: vec!["Ложка чайная".into(), "Нож".into()],
        ..application(1, "Ложки")
    };
    assert_eq!(snippet(document.clone(), "ложки"), "<b>Ложки</b>");
    assert_eq!(
        snippet(document.clone(), "вилки"),
        "Ложки для офиса и <b>вилки</b>"
    );
    assert_eq!(snippet(document, "нож"), "Ложка чайная; <b>Нож</b>");
}

#[test]
fn without_a_highlight_the_title_is_shown() {
    let document = ApplicationDocument {
        applicant: "Петрова".into(),
        ..application(1, "Бумага <А4>")
    };
    assert_eq!(snippet(document, "петрова"), "Бумага &lt;А4&gt;");
}

#[test]
fn long_texts_are_cut_around_the_match() {
    let filler = "Очень длинное описание заявки без нужного слова. ".repeat(20);
    let description = format!("{filler}Здесь упомянуты ложки чайные. {filler}");
    let document = ApplicationDocument {
        description: Some(description),
        ..application(1, "Посуда")
    };
    let html = snippet(document, "ложки");
    assert!(html.contains("<b>ложки</b>"), "{html}");
    let visible = visible_text(&html);
    assert!(
        visible.chars().count() <= SNIPPET_MAX_CHARS + 2,
        "{} characters: {visible}",
        visible.chars().count()
    );
    assert!(
        visible.starts_with('…') || visible.ends_with('…'),
        "{visible}"
    );
    let english = ApplicationDocument {
        description: Some(format!(
            "{}The spoons are here. {}",
            "A long description without it. ".repeat(20),
            "More filler text. ".repeat(20)
        )),
        ..application(1, "Kitchen")
    };
    let visible = visible_text(&snippet(english, "spoon"));
    assert!(
        visible.chars().count() <= SNIPPET_MAX_CHARS + 2,
        "{visible}"
    );
    assert!(visible.chars().count() > SNIPPET_MAX_CHARS / 2, "{visible}");
}
