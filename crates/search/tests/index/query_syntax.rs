use crate::helpers::{application, id, ids, index_with, sorted_ids};
use zayavki_search::ApplicationDocument;

#[test]
fn all_words_must_match() {
    let index = index_with(vec![
        application(1, "Ложки и вилки"),
        application(2, "Ложки чайные"),
        application(3, "Вилки десертные"),
    ]);
    assert_eq!(sorted_ids(&index, "ложки вилки"), [id(1)]);
    assert_eq!(sorted_ids(&index, "ложки"), [id(1), id(2)]);
    assert!(ids(&index, "ложки ножи").is_empty());
}

#[test]
fn words_may_match_in_different_texts() {
    let index = index_with(vec![ApplicationDocument {
        description: Some("Для новой столовой".to_string()),
        item_names: vec!["Ложка чайная".to_string()],
        ..application(1, "Посуда")
    }]);
    assert_eq!(sorted_ids(&index, "посуда столовая ложки"), [id(1)]);
}

#[test]
fn a_phrase_needs_its_words_in_order() {
    let index = index_with(vec![
        application(1, "Чайные ложки для кухни"),
        application(2, "Ложки чайные"),
        application(3, "Чайные пакетики и ложки"),
    ]);
    assert_eq!(sorted_ids(&index, r#""чайная ложка""#), [id(1)]);
    assert_eq!(sorted_ids(&index, r#""ложки чайные""#), [id(2)]);
    assert_eq!(sorted_ids(&index, "чайные ложки"), [id(1), id(2), id(3)]);
}

#[test]
fn a_phrase_combines_with_words() {
    let index = index_with(vec![
        application(1, "Чайные ложки для кухни"),
        application(2, "Чайные ложки для офиса"),
    ]);
    assert_eq!(sorted_ids(&index, r#"офис "чайные ложки""#), [id(2)]);
}

#[test]
fn a_trailing_star_searches_by_prefix() {
    let index = index_with(vec![
        application(1, "Ложка"),
        application(2, "Spoon"),
        application(3, "Stirring spoons"),
        application(4, "Вилка"),
    ]);
    assert_eq!(sorted_ids(&index, "лож*"), [id(1)]);
    assert_eq!(sorted_ids(&index, "ЛОЖК*"), [id(1)]);
    assert_eq!(sorted_ids(&index, "ложка*"), [id(1)]);
    assert_eq!(sorted_ids(&index, "spo*"), [id(2), id(3)]);
    assert_eq!(sorted_ids(&index, "stirr*"), [id(3)]);
    assert_eq!(sorted_ids(&index, "stirr* spo*"), [id(3)]);
    assert!(ids(&index, "нож*").is_empty());
}

#[test]
fn a_prefix_folds_yo() {
    let index = index_with(vec![application(1, "Ёлочные игрушки")]);
    assert_eq!(sorted_ids(&index, "ёлоч*"), [id(1)]);
    assert_eq!(sorted_ids(&index, "елоч*"), [id(1)]);
}

#[test]
fn operators_are_not_syntax() {
    let index = index_with(vec![
        application(1, "Ложки и вилки"),
        application(2, "Ложки чайные"),
    ]);
    // Words are always combined with AND; OR does not widen the search.
    assert_eq!(sorted_ids(&index, "ложки OR вилки"), [id(1)]);
    assert_eq!(sorted_ids(&index, "ложки AND вилки"), [id(1)]);
    assert_eq!(sorted_ids(&index, "title:ложки"), Vec::<uuid::Uuid>::new());
    assert_eq!(sorted_ids(&index, "(ложки) -вилки"), [id(1)]);
}

#[test]
fn applicant_is_searchable() {
    let index = index_with(vec![
        ApplicationDocument {
            applicant: "Петрова Мария".to_string(),
            ..application(1, "Бумага")
        },
        application(2, "Бумага"),
    ]);
    assert_eq!(sorted_ids(&index, "бумага петрова"), [id(1)]);
}
