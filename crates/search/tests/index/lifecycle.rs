use std::fs;

use zayavki_search::{ApplicationDocument, IndexOpenError, SearchIndex, SearchRequest};

use crate::helpers::{application, id, ids, ids_for, index_with, request};

fn with_status(status: &str) -> SearchRequest {
    SearchRequest {
        statuses: vec![status.into()],
        ..request("бумага")
    }
}

#[test]
fn upsert_replaces_a_document_with_the_same_id() {
    let index = index_with(vec![
        application(1, "Бумага офисная"),
        application(2, "Бумага"),
    ]);
    assert_eq!(ids_for(&index, &with_status("NEW")).len(), 2);

    let completed = ApplicationDocument {
        status: "COMPLETED".into(),
        ..application(1, "Бумага офисная, уточнено")
    };
    index.upsert(vec![completed], None).expect("upsert");

    assert_eq!(index.document_count(), 2);
    assert_eq!(ids_for(&index, &with_status("NEW")), [id(2)]);
    assert_eq!(ids_for(&index, &with_status("COMPLETED")), [id(1)]);
    let mut all = ids(&index, "бумага");
    all.sort();
    assert_eq!(all, [id(1), id(2)], "no duplicate hit");
    assert_eq!(ids(&index, "уточнено"), [id(1)]);
}

#[test]
fn the_last_copy_of_an_id_in_a_batch_wins() {
    let index = index_with(vec![application(1, "Бумага"), application(1, "Ручки")]);
    assert_eq!(index.document_count(), 1);
    assert!(ids(&index, "бумага").is_empty());
    assert_eq!(ids(&index, "ручки"), [id(1)]);
}

#[test]
fn delete_removes_documents() {
    let index = index_with(vec![application(1, "Бумага"), application(2, "Бумага")]);
    index.delete(&[id(1), id(99)], Some(5)).expect("delete");
    assert_eq!(ids(&index, "бумага"), [id(2)]);
    assert_eq!(index.watermark(), Some(5));
}

#[test]
fn watermark_survives_reopening() {
    let dir = tempfile::tempdir().expect("temporary directory");
    {
        let index = SearchIndex::open_or_create(dir.path()).expect("create");
        assert_eq!(index.watermark(), None);
        index
            .upsert(vec![application(1, "Бумага")], Some(41))
            .expect("upsert");
        index
            .upsert(vec![application(2, "Ручки")], Some(42))
            .expect("upsert");
        // No watermark given: the previous one stays.
        index
            .upsert(vec![application(3, "Скрепки")], None)
            .expect("upsert");
        assert_eq!(index.watermark(), Some(42));
    }
    let reopened = SearchIndex::open_or_create(dir.path()).expect("reopen");
    assert_eq!(reopened.watermark(), Some(42));
    assert_eq!(reopened.document_count(), 3);
    assert_eq!(ids(&reopened, "ручки"), [id(2)]);
}

#[test]
fn a_second_writer_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let _first = SearchIndex::open_or_create(dir.path()).expect("create");
    match SearchIndex::open_or_create(dir.path()) {
        Err(IndexOpenError::Locked { .. }) => {}
        other => panic!("expected Locked, got {other:?}"),
    }
}

#[test]
fn junk_metadata_is_reported_as_corrupt() {
    let dir = tempfile::tempdir().expect("temporary directory");
    {
        let index = SearchIndex::open_or_create(dir.path()).expect("create");
        index
            .upsert(vec![application(1, "Бумага")], Some(1))
            .expect("upsert");
    }
    fs::write(dir.path().join("meta.json"), b"\x00not json at all{{{").expect("write junk");
    match SearchIndex::open_or_create(dir.path()) {
        Err(IndexOpenError::Corrupt { reason, .. }) => assert!(!reason.is_empty()),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn damaged_segment_files_are_reported_as_corrupt() {
    let dir = tempfile::tempdir().expect("temporary directory");
    {
        let index = SearchIndex::open_or_create(dir.path()).expect("create");
        index
            .upsert(vec![application(1, "Бумага")], Some(1))
            .expect("upsert");
    }
    let segment_file = fs::read_dir(dir.path())
        .expect("list index files")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .find(|path| {
            path.extension()
                .is_some_and(|extension| extension == "store")
        })
        .expect("a doc store file");
    let mut bytes = fs::read(&segment_file).expect("read segment file");
    bytes[0] ^= 0xff;
    fs::write(&segment_file, bytes).expect("damage segment file");
    assert!(matches!(
        SearchIndex::open_or_create(dir.path()),
        Err(IndexOpenError::Corrupt { .. })
    ));
}

#[test]
fn a_rebuild_after_corruption_starts_empty() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let index_dir = dir.path().join("search");
    fs::create_dir_all(&index_dir).expect("create dir");
    fs::write(index_dir.join("meta.json"), b"garbage").expect("write junk");
    assert!(matches!(
        SearchIndex::open_or_create(&index_dir),
        Err(IndexOpenError::Corrupt { .. })
    ));
    fs::remove_dir_all(&index_dir).expect("delete the corrupt index");
    let rebuilt = SearchIndex::open_or_create(&index_dir).expect("fresh index");
    assert_eq!(rebuilt.document_count(), 0);
}

#[test]
fn an_unusable_path_is_an_io_error() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = dir.path().join("a-file");
    fs::write(&file, b"not a directory").expect("write file");
    assert!(matches!(
        SearchIndex::open_or_create(&file),
        Err(IndexOpenError::Io { .. })
    ));
}

#[test]
fn clear_removes_everything_and_resets_the_watermark() {
    let dir = tempfile::tempdir().expect("temporary directory");
    {
        let index = SearchIndex::open_or_create(dir.path()).expect("create");
        index
            .upsert(
                vec![application(1, "Бумага"), application(2, "Ручки")],
                Some(7),
            )
            .expect("upsert");
        index.clear().expect("clear");
        assert_eq!(index.document_count(), 0);
        assert_eq!(index.watermark(), None);
        assert!(ids(&index, "бумага").is_empty());
        index
            .upsert(vec![application(3, "Бумага")], Some(8))
            .expect("upsert after clear");
        assert_eq!(ids(&index, "бумага"), [id(3)]);
    }
    let reopened = SearchIndex::open_or_create(dir.path()).expect("reopen");
    assert_eq!(reopened.document_count(), 1);
    assert_eq!(reopened.watermark(), Some(8));
}

#[test]
fn searches_run_while_another_thread_writes() {
    fn assert_shareable<T: Clone + Send + Sync + 'static>() {}
    assert_shareable::<SearchIndex>();

    let index = index_with(vec![application(0, "Бумага")]);
    let writer = {
        let index = index.clone();
        std::thread::spawn(move || {
            for number in 1..=20 {
                index
                    .upsert(vec![application(number, "Бумага")], Some(number as u64))
                    .expect("upsert");
            }
        })
    };
    let mut last_count = 0;
    for _ in 0..200 {
        let count = ids(&index, "бумага").len();
        assert!(count >= last_count, "a committed document disappeared");
        last_count = count;
    }
    writer.join().expect("writer thread");
    assert_eq!(ids(&index, "бумага").len(), 21);
    assert_eq!(index.watermark(), Some(20));
}
