use chrono::Duration;
use uuid::Uuid;
use zayavki_search::{ApplicationDocument, SearchRequest};

use crate::helpers::{application, day, id, ids_for, index_with, request};

fn sorted(mut found: Vec<Uuid>) -> Vec<Uuid> {
    found.sort();
    found
}

fn documents() -> Vec<ApplicationDocument> {
    vec![
        ApplicationDocument {
            status: "NEW".into(),
            applicant: "ivanov".into(),
            applied_at: day(1),
            ..application(1, "Бумага офисная")
        },
        ApplicationDocument {
            status: "COMPLETED".into(),
            applicant: "ivanov".into(),
            applied_at: day(10),
            ..application(2, "Бумага для принтера")
        },
        ApplicationDocument {
            status: "REJECTED".into(),
            applicant: "petrova".into(),
            applied_at: day(20),
            ..application(3, "Бумага цветная")
        },
        ApplicationDocument {
            status: "NEW".into(),
            applicant: "petrova".into(),
            applied_at: day(20),
            ..application(4, "Ручки шариковые")
        },
    ]
}

#[test]
fn statuses_filter_to_any_of_them() {
    let index = index_with(documents());
    let only_new = SearchRequest {
        statuses: vec!["NEW".into()],
        ..request("бумага")
    };
    assert_eq!(sorted(ids_for(&index, &only_new)), [id(1)]);
    let new_or_rejected = SearchRequest {
        statuses: vec!["NEW".into(), "REJECTED".into()],
        ..request("бумага")
    };
    assert_eq!(sorted(ids_for(&index, &new_or_rejected)), [id(1), id(3)]);
    let unknown = SearchRequest {
        statuses: vec!["ARCHIVED".into()],
        ..request("бумага")
    };
    assert!(ids_for(&index, &unknown).is_empty());
}

#[test]
fn applied_from_is_inclusive_and_applied_before_exclusive() {
    let index = index_with(documents());
    let range = |from, before| SearchRequest {
        applied_from: from,
        applied_before: before,
        ..request("бумага")
    };
    assert_eq!(
        sorted(ids_for(&index, &range(Some(day(10)), None))),
        [id(2), id(3)]
    );
    assert_eq!(
        sorted(ids_for(&index, &range(None, Some(day(10))))),
        [id(1)]
    );
    assert_eq!(
        sorted(ids_for(&index, &range(Some(day(10)), Some(day(20))))),
        [id(2)]
    );
    // Microsecond precision at the boundaries.
    let just_after = day(10) + Duration::microseconds(1);
    assert_eq!(
        sorted(ids_for(&index, &range(Some(just_after), None))),
        [id(3)]
    );
    assert_eq!(
        sorted(ids_for(&index, &range(None, Some(just_after)))),
        [id(1), id(2)]
    );
    // An empty or inverted range matches nothing.
    assert!(ids_for(&index, &range(Some(day(10)), Some(day(10)))).is_empty());
    assert!(ids_for(&index, &range(Some(day(20)), Some(day(1)))).is_empty());
}

#[test]
fn applicant_restricts_to_their_own_applications() {
    let index = index_with(documents());
    let own = |applicant: &str| SearchRequest {
        applicant: Some(applicant.into()),
        ..request("бумага")
    };
    assert_eq!(sorted(ids_for(&index, &own("ivanov"))), [id(1), id(2)]);
    assert_eq!(sorted(ids_for(&index, &own("petrova"))), [id(3)]);
    // Exact: neither a prefix nor another case matches.
    assert!(ids_for(&index, &own("ivan")).is_empty());
    assert!(ids_for(&index, &own("IVANOV")).is_empty());
}

#[test]
fn filters_combine_with_each_other_and_the_text() {
    let index = index_with(documents());
    let combined = SearchRequest {
        statuses: vec!["NEW".into(), "REJECTED".into()],
        applicant: Some("petrova".into()),
        applied_from: Some(day(15)),
        applied_before: Some(day(25)),
        ..request("бумага")
    };
    assert_eq!(ids_for(&index, &combined), [id(3)]);
    let other_text = SearchRequest {
        query: "ручки".into(),
        ..combined.clone()
    };
    assert_eq!(ids_for(&index, &other_text), [id(4)]);
}

#[test]
fn filters_do_not_change_scores() {
    let index = index_with(documents());
    let unfiltered = crate::helpers::page(&index, &request("бумага"));
    let filtered = crate::helpers::page(
        &index,
        &SearchRequest {
            statuses: vec!["COMPLETED".into()],
            ..request("бумага")
        },
    );
    let unfiltered_score = unfiltered
        .hits
        .iter()
        .find(|hit| hit.id == id(2))
        .map(|hit| hit.score);
    assert_eq!(unfiltered_score, filtered.hits.first().map(|hit| hit.score));
}
