use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;
use zayavki_search::{ApplicationDocument, SearchIndex, SearchPage, SearchRequest};

/// A deterministic id, so failures name documents readably.
pub fn id(number: u128) -> Uuid {
    Uuid::from_u128(number)
}

pub fn day(day_of_january: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, day_of_january, 12, 0, 0)
        .single()
        .expect("valid date")
}

/// An application with only a title; adjust the rest with struct update syntax.
pub fn application(number: u128, title: &str) -> ApplicationDocument {
    ApplicationDocument {
        id: id(number),
        applicant: "tester".to_string(),
        title: title.to_string(),
        description: None,
        item_names: Vec::new(),
        status: "NEW".to_string(),
        applied_at: day(1),
    }
}

pub fn index_with(documents: Vec<ApplicationDocument>) -> SearchIndex {
    let index = SearchIndex::create_in_ram().expect("in-memory index");
    index.upsert(documents, None).expect("indexing succeeds");
    index
}

pub fn request(query: &str) -> SearchRequest {
    SearchRequest {
        page_size: 100,
        ..SearchRequest::new(query)
    }
}

pub fn page(index: &SearchIndex, request: &SearchRequest) -> SearchPage {
    index
        .search(request)
        .unwrap_or_else(|error| panic!("search for {:?} failed: {error}", request.query))
}

/// Ids of the hits, best first.
pub fn ids(index: &SearchIndex, query: &str) -> Vec<Uuid> {
    ids_for(index, &request(query))
}

pub fn ids_for(index: &SearchIndex, request: &SearchRequest) -> Vec<Uuid> {
    page(index, request).hits.iter().map(|hit| hit.id).collect()
}

/// Ids of the hits, sorted, for tests where the order does not matter.
pub fn sorted_ids(index: &SearchIndex, query: &str) -> Vec<Uuid> {
    let mut found = ids(index, query);
    found.sort();
    found
}
