use std::collections::HashSet;

use uuid::Uuid;
use zayavki_search::{ApplicationDocument, MAX_PAGE_SIZE, SearchError, SearchRequest};

use crate::helpers::{application, id, ids_for, index_with, page, request};

const MATCHING: u128 = 250;

/// 250 documents about paper with scores that vary and tie, plus some that do not match.
fn documents() -> Vec<ApplicationDocument> {
    let mut documents: Vec<ApplicationDocument> = (0..MATCHING)
        .map(|number| {
            let padding = "для офиса ".repeat((number % 5) as usize);
            application(number, &format!("Бумага {padding}"))
        })
        .collect();
    documents.extend((MATCHING..MATCHING + 30).map(|number| application(number, "Ручки")));
    documents
}

/// Follows next_page_token to the end and returns every hit id in order.
fn walk(index: &zayavki_search::SearchIndex, first: &SearchRequest) -> (Vec<Uuid>, usize) {
    let mut seen = Vec::new();
    let mut pages = 0;
    let mut current = first.clone();
    loop {
        let result = page(index, &current);
        pages += 1;
        assert!(result.hits.len() <= current.page_size);
        seen.extend(result.hits.iter().map(|hit| hit.id));
        match result.next_page_token {
            Some(token) => {
                assert_eq!(
                    result.hits.len(),
                    current.page_size,
                    "only the last page is short"
                );
                current.page_token = Some(token);
            }
            None => break,
        }
        assert!(pages < 1_000, "pagination does not end");
    }
    (seen, pages)
}

#[test]
fn pages_cover_every_hit_exactly_once_in_rank_order() {
    let index = index_with(documents());
    let first = SearchRequest {
        page_size: 7,
        ..request("бумага")
    };
    let (seen, pages) = walk(&index, &first);
    assert_eq!(pages, MATCHING.div_ceil(7) as usize);
    let unique: HashSet<Uuid> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a hit was repeated");
    assert_eq!(unique, (0..MATCHING).map(id).collect::<HashSet<_>>());
    let all_at_once = ids_for(
        &index,
        &SearchRequest {
            page_size: MAX_PAGE_SIZE,
            ..request("бумага")
        },
    );
    assert_eq!(seen, all_at_once);
}

#[test]
fn page_size_may_change_between_pages() {
    let index = index_with(documents());
    let first = page(
        &index,
        &SearchRequest {
            page_size: 100,
            ..request("бумага")
        },
    );
    let rest = SearchRequest {
        page_size: 1_000,
        page_token: first.next_page_token.clone(),
        ..request("бумага")
    };
    let second = page(&index, &rest);
    assert_eq!(first.hits.len() + second.hits.len(), MATCHING as usize);
    assert_eq!(second.next_page_token, None);
}

#[test]
fn an_exact_last_page_has_no_token() {
    let index = index_with((0..14).map(|n| application(n, "Бумага")).collect());
    let first = page(
        &index,
        &SearchRequest {
            page_size: 7,
            ..request("бумага")
        },
    );
    let second = page(
        &index,
        &SearchRequest {
            page_size: 7,
            page_token: first.next_page_token,
            ..request("бумага")
        },
    );
    assert_eq!(second.hits.len(), 7);
    assert_eq!(second.next_page_token, None);
}

fn token_of(index: &zayavki_search::SearchIndex, request: &SearchRequest) -> String {
    page(index, request).next_page_token.expect("more pages")
}

#[test]
fn a_token_is_refused_with_another_query_or_filters() {
    let index = index_with(documents());
    let first = SearchRequest {
        page_size: 7,
        ..request("бумага")
    };
    let token = token_of(&index, &first);
    let others = [
        SearchRequest {
            query: "бумага офис".into(),
            ..first.clone()
        },
        SearchRequest {
            statuses: vec!["NEW".into()],
            ..first.clone()
        },
        SearchRequest {
            applicant: Some("tester".into()),
            ..first.clone()
        },
        SearchRequest {
            applied_from: Some(crate::helpers::day(1)),
            ..first.clone()
        },
    ];
    for other in others {
        let reused = SearchRequest {
            page_token: Some(token.clone()),
            ..other
        };
        match index.search(&reused) {
            Err(SearchError::InvalidPageToken(message)) => {
                assert!(message.contains("different query"), "{message}");
            }
            other => panic!("expected InvalidPageToken, got {other:?}"),
        }
    }
}

#[test]
fn garbage_tokens_are_refused() {
    let index = index_with(documents());
    let valid = token_of(
        &index,
        &SearchRequest {
            page_size: 7,
            ..request("бумага")
        },
    );
    let flipped = {
        let mut bytes = valid.clone().into_bytes();
        bytes[0] = if bytes[0] == b'A' { b'B' } else { b'A' };
        String::from_utf8(bytes).expect("ascii")
    };
    let garbage = [
        String::new(),
        "garbage".into(),
        "!!!!".into(),
        "😀".into(),
        valid[..valid.len() / 2].to_string(),
        format!("{valid}AAAA"),
        flipped,
        "A".repeat(100_000),
    ];
    for token in garbage {
        let reused = SearchRequest {
            page_size: 7,
            page_token: Some(token.clone()),
            ..request("бумага")
        };
        assert!(
            matches!(index.search(&reused), Err(SearchError::InvalidPageToken(_))),
            "token {:?} accepted",
            token.chars().take(40).collect::<String>()
        );
    }
}

#[test]
fn page_size_is_checked() {
    let index = index_with(documents());
    for page_size in [0, MAX_PAGE_SIZE + 1] {
        let invalid = SearchRequest {
            page_size,
            ..request("бумага")
        };
        assert!(matches!(
            index.search(&invalid),
            Err(SearchError::InvalidPageSize(size)) if size == page_size
        ));
    }
}

/// `documents` indexed a thousand per commit (a segment each), then every `nth` of them
/// indexed again as cancelled, which leaves deleted copies behind in the older segments.
fn index_in_segments(documents: &[ApplicationDocument], nth: usize) -> zayavki_search::SearchIndex {
    let index = zayavki_search::SearchIndex::create_in_ram().expect("in-memory index");
    for chunk in documents.chunks(1_000) {
        index.upsert(chunk.to_vec(), None).expect("indexed");
    }
    let changed: Vec<ApplicationDocument> = documents
        .iter()
        .step_by(nth)
        .map(|document| ApplicationDocument {
            status: "CANCELLED".to_owned(),
            ..document.clone()
        })
        .collect();
    index.upsert(changed, None).expect("re-indexed");
    index
}

/// One-word queries pass over blocks of documents that cannot reach a full page. Small pages
/// (pruning hard, with deleted documents and several segments) must give exactly the ranking of one page large enough to hold every hit, where nothing is skipped;
/// with a status filter too.
#[test]
fn pruned_small_pages_rank_exactly_like_one_unpruned_page() {
    let documents: Vec<ApplicationDocument> =
        zayavki_search::sample_data::generate_realistic_documents(6_000, 11).collect();
    let index = index_in_segments(&documents, 7);

    for (query, statuses) in [
        ("бумага", vec![]),
        ("ложка", vec![]),
        ("monitor", vec![]),
        ("бумага", vec!["NEW".to_owned()]),
    ] {
        let everything = SearchRequest {
            page_size: MAX_PAGE_SIZE,
            statuses: statuses.clone(),
            ..SearchRequest::new(query)
        };
        let all = page(&index, &everything);
        assert!(
            all.next_page_token.is_none() && all.hits.len() > 45,
            "{query}: {} hits on one page",
            all.hits.len()
        );
        let expected: Vec<Uuid> = all.hits.iter().map(|hit| hit.id).collect();
        let (paged, pages) = walk(
            &index,
            &SearchRequest {
                page_size: 9,
                ..everything
            },
        );
        assert!(pages > 5);
        assert_eq!(paged, expected, "{query} {statuses:?}");
    }
}

/// Exact ties: hundreds of applications share a title, so one-word pages are decided by id.
/// Blocks of such documents are passed over only when every id in them is larger than the
/// page's worst; with ids in document order (as UUIDv7 ids are indexed), with stragglers, in
/// reverse and scattered, over several segments with deleted copies, small pages must still give exactly
/// the ranking of one page holding every hit.
#[test]
fn ties_page_by_id_like_one_unpruned_page() {
    let scattered = |number: u128| number.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
    for (order, id_of) in [
        ("increasing", (|number| number << 70) as fn(u128) -> u128),
        // Mostly increasing, with older ids among the newer ones (re-indexed applications).
        ("stragglers", |number| {
            if number % 400 == 384 {
                number << 8
            } else {
                number << 70
            }
        }),
        ("decreasing", |number| (4_000 - number) << 70),
        ("scattered", scattered),
    ] {
        // A quarter match; a sixteenth tie for the best score (title and description).
        let documents: Vec<ApplicationDocument> = (0..3_000_u128)
            .map(|number| {
                let title = match number % 8 {
                    0 => "Ложки",
                    4 => "Ложки чайные",
                    _ => "Вилки",
                };
                ApplicationDocument {
                    id: Uuid::from_u128(id_of(number)),
                    description: (number % 16 == 0).then(|| "ложка для кофе".to_owned()),
                    ..application(0, title)
                }
            })
            .collect();
        let index = index_in_segments(&documents, 44);

        for statuses in [vec![], vec!["NEW".to_owned()]] {
            let everything = SearchRequest {
                page_size: MAX_PAGE_SIZE,
                statuses: statuses.clone(),
                ..SearchRequest::new("ложка")
            };
            let all = page(&index, &everything);
            assert!(all.next_page_token.is_none() && all.hits.len() > 300);
            let distinct_scores: HashSet<u32> =
                all.hits.iter().map(|hit| hit.score.to_bits()).collect();
            assert!(
                distinct_scores.len() * 20 < all.hits.len(),
                "{order}: the hits should tie in a few scores, not {}",
                distinct_scores.len()
            );
            let expected: Vec<Uuid> = all.hits.iter().map(|hit| hit.id).collect();
            for page_size in [1, 6, 50] {
                let (paged, _) = walk(
                    &index,
                    &SearchRequest {
                        page_size,
                        ..everything.clone()
                    },
                );
                assert_eq!(
                    paged, expected,
                    "{order} {statuses:?} page size {page_size}"
                );
            }
        }
    }
}
