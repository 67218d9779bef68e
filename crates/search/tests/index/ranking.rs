use crate::helpers::{application, id, ids, index_with, page, request};
use zayavki_search::ApplicationDocument;

#[test]
fn a_title_match_outranks_a_description_match() {
    let index = index_with(vec![
        ApplicationDocument {
            description: Some("Нужен новый монитор для бухгалтерии".to_string()),
            ..application(1, "Оборудование для бухгалтерии")
        },
        ApplicationDocument {
            description: Some("Для бухгалтерии".to_string()),
            ..application(2, "Монитор 27 дюймов")
        },
    ]);
    assert_eq!(ids(&index, "монитор"), [id(2), id(1)]);
    assert_eq!(ids(&index, "монитор*"), [id(2), id(1)]);
}

#[test]
fn an_item_name_match_outranks_a_description_match() {
    let index = index_with(vec![
        ApplicationDocument {
            description: Some("Ещё понадобятся степлеры".to_string()),
            ..application(1, "Канцтовары")
        },
        ApplicationDocument {
            item_names: vec!["Степлер".to_string()],
            ..application(2, "Канцтовары")
        },
    ]);
    assert_eq!(ids(&index, "степлер"), [id(2), id(1)]);
}

#[test]
fn hits_come_best_first_with_scores() {
    let index = index_with(vec![
        application(1, "Бумага"),
        application(
            2,
            "Бумага и ещё бумага для принтера и много других слов в заголовке",
        ),
    ]);
    let hits = page(&index, &request("бумага")).hits;
    assert_eq!(hits.len(), 2);
    assert!(hits[0].score >= hits[1].score);
    assert!(hits.iter().all(|hit| hit.score > 0.0));
}
