//! Full-text search through the gRPC API against the real PostgreSQL and the derived index.

use std::{
    collections::HashSet,
    path::Path,
    time::{Duration, Instant},
};

use tonic::Code;
use zayavki_common::database::DatabaseSettings;
use zayavki_proto::applications::v1 as pb;
use zayavki_testkit::TestDatabase;

use crate::helpers::{
    ApplicationsClient, TestApp, assert_code, cancel, item, spawn_app, spawn_app_with,
    violated_fields,
};

fn search(q: &str) -> pb::SearchApplicationsRequest {
    pb::SearchApplicationsRequest {
        q: q.to_owned(),
        ..Default::default()
    }
}

async fn file(
    client: &mut ApplicationsClient,
    title: &str,
    description: Option<&str>,
    items: &[&str],
) -> pb::Application {
    client
        .create_application(pb::CreateApplicationRequest {
            request_id: String::new(),
            application: Some(pb::NewApplication {
                title: title.to_owned(),
                description: description.map(str::to_owned),
                items: items.iter().map(|name| item(name, 1, "1.00")).collect(),
            }),
        })
        .await
        .expect("created")
        .into_inner()
}

async fn titles_found(
    client: &mut ApplicationsClient,
    request: pb::SearchApplicationsRequest,
) -> Vec<String> {
    client
        .search_applications(request)
        .await
        .expect("search")
        .into_inner()
        .hits
        .into_iter()
        .map(|hit| hit.application.expect("application").title)
        .collect()
}

/// Polls until `request` finds exactly `expected` hits; returns how long it took.
async fn wait_for_hits(
    client: &mut ApplicationsClient,
    request: pb::SearchApplicationsRequest,
    expected: usize,
    limit: Duration,
) -> Duration {
    let started = Instant::now();
    loop {
        let found = client
            .search_applications(request.clone())
            .await
            .expect("search")
            .into_inner()
            .hits
            .len();
        if found == expected {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "expected {expected} hits for {:?}, found {found} after {limit:?}",
            request.q
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn russian_and_english_word_forms_find_each_other() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    file(&mut alice, "Ложки чайные для столовой", None, &[]).await;
    file(&mut alice, "Купить ложку", None, &[]).await;
    file(&mut alice, "Размешивать Ложкой", None, &[]).await;
    file(
        &mut alice,
        "Teaspoons for the kitchen",
        None,
        &["spoon rack"],
    )
    .await;
    file(&mut alice, "Ёлка новогодняя", None, &[]).await;
    file(
        &mut alice,
        "Бумага офисная",
        Some("Пачки бумаги А4"),
        &["Скрепки"],
    )
    .await;
    wait_for_hits(&mut alice, search("бумага"), 1, Duration::from_secs(3)).await;

    let mut ложка = titles_found(&mut alice, search("ложка")).await;
    ложка.sort();
    assert_eq!(
        ложка,
        [
            "Купить ложку",
            "Ложки чайные для столовой",
            "Размешивать Ложкой"
        ]
    );
    assert_eq!(
        titles_found(&mut alice, search("spoons")).await,
        ["Teaspoons for the kitchen"]
    );
    assert_eq!(
        titles_found(&mut alice, search("елка")).await,
        ["Ёлка новогодняя"]
    );
    assert_eq!(
        titles_found(&mut alice, search("СКРЕПКА")).await,
        ["Бумага офисная"]
    );
    assert_eq!(
        titles_found(&mut alice, search("alice")).await.len(),
        6,
        "the applicant is searchable"
    );
}

#[tokio::test]
async fn phrases_prefixes_and_and_semantics() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    file(&mut alice, "чайные ложки", None, &[]).await;
    file(&mut alice, "ложки и чайные чашки", None, &[]).await;
    file(&mut alice, "столовые ложки", None, &[]).await;
    wait_for_hits(&mut alice, search("ложки"), 3, Duration::from_secs(3)).await;

    let mut both = titles_found(&mut alice, search("чайные ложки")).await;
    both.sort();
    assert_eq!(
        both,
        ["ложки и чайные чашки", "чайные ложки"],
        "words are ANDed"
    );
    assert_eq!(
        titles_found(&mut alice, search("\"чайные ложки\"")).await,
        ["чайные ложки"]
    );
    let mut prefixed = titles_found(&mut alice, search("стол*")).await;
    prefixed.sort();
    assert_eq!(prefixed, ["столовые ложки"]);
}

#[tokio::test]
async fn title_matches_rank_above_description_matches_and_carry_snippets() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    file(
        &mut alice,
        "Заказ канцелярии",
        Some("Нужны маркеры <script>alert(1)</script> для доски"),
        &[],
    )
    .await;
    file(&mut alice, "Маркеры для доски", None, &[]).await;
    wait_for_hits(&mut alice, search("маркеры"), 2, Duration::from_secs(3)).await;

    let hits = alice
        .search_applications(search("маркеры"))
        .await
        .expect("search")
        .into_inner()
        .hits;
    assert_eq!(
        hits[0].application.as_ref().expect("app").title,
        "Маркеры для доски"
    );
    assert!(hits[0].score > hits[1].score);
    assert!(
        hits[0].snippet.contains("<b>Маркеры</b>"),
        "{}",
        hits[0].snippet
    );
    assert!(
        hits[1].snippet.contains("<b>маркеры</b>"),
        "{}",
        hits[1].snippet
    );
    assert!(
        !hits[1].snippet.contains("<script>"),
        "snippets are escaped: {}",
        hits[1].snippet
    );
}

#[tokio::test]
async fn search_combines_with_filters_and_paginates_without_repeats() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    let created = alice
        .batch_create_applications(pb::BatchCreateApplicationsRequest {
            request_id: String::new(),
            applications: (0..120)
                .map(|index| pb::NewApplication {
                    title: format!("Стулья офисные, партия {index}"),
                    description: None,
                    items: vec![],
                })
                .collect(),
        })
        .await
        .expect("batch")
        .into_inner()
        .applications;
    let cancelled = &created[7];
    cancel(&mut alice, &cancelled.id).await;
    let only_cancelled = pb::SearchApplicationsRequest {
        status: vec![pb::ApplicationStatus::Cancelled as i32],
        ..search("стул")
    };
    wait_for_hits(
        &mut alice,
        only_cancelled.clone(),
        1,
        Duration::from_secs(3),
    )
    .await;

    let mut seen = HashSet::new();
    let mut request = pb::SearchApplicationsRequest {
        page_size: 25,
        status: vec![pb::ApplicationStatus::New as i32],
        ..search("стулья")
    };
    let mut pages = 0;
    loop {
        let page = alice
            .search_applications(request.clone())
            .await
            .expect("page")
            .into_inner();
        pages += 1;
        for hit in page.hits {
            assert!(
                seen.insert(hit.application.expect("app").id),
                "a hit repeated"
            );
        }
        if page.next_page_token.is_empty() {
            break;
        }
        request.page_token = page.next_page_token;
        assert!(pages < 10, "pagination ends");
    }
    assert_eq!(seen.len(), 119);
    assert!(!seen.contains(&cancelled.id));

    let none_today = pb::SearchApplicationsRequest {
        applied_to: "2000-01-01".to_owned(),
        ..search("стулья")
    };
    assert!(titles_found(&mut alice, none_today).await.is_empty());
}

#[tokio::test]
async fn applicants_find_only_their_own_applications() {
    let app = spawn_app().await;
    file(&mut app.applicant("alice"), "Секретный проектор", None, &[]).await;
    let mut olga = app.operator("olga");
    wait_for_hits(&mut olga, search("проектор"), 1, Duration::from_secs(3)).await;
    assert!(
        titles_found(&mut app.applicant("bob"), search("проектор"))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn hostile_queries_are_searched_leniently_or_refused_clearly() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    file(&mut alice, "Обычная заявка", None, &[]).await;
    let long = "ложка ".repeat(2000);
    let hostile = [
        "\"unbalanced",
        "a:b",
        "(",
        ")",
        "-",
        " - ",
        "title:ложка",
        "AND OR NOT",
        "*",
        "**",
        "\u{0}",
        "\u{7}\u{1b}[31m",
        "🙂",
        "ложка\"",
        "'; DROP TABLE applications; --",
        long.as_str(),
        "\"\"",
        "+-&&||!(){}[]^~?:\\/",
    ];
    for q in hostile {
        match alice.search_applications(search(q)).await {
            Ok(_) => {}
            Err(status) => {
                assert_code(&status, Code::InvalidArgument);
                assert_eq!(violated_fields(&status), ["q"], "{q:?}");
                assert!(!status.message().is_empty());
            }
        }
    }
    for empty in ["", "   "] {
        let status = alice
            .search_applications(search(empty))
            .await
            .expect_err("empty q");
        assert_code(&status, Code::InvalidArgument);
        assert_eq!(violated_fields(&status), ["q"]);
    }
    let status = alice
        .search_applications(pb::SearchApplicationsRequest {
            page_token: "garbage".to_owned(),
            ..search("заявка")
        })
        .await
        .expect_err("bad token");
    assert_eq!(violated_fields(&status), ["page_token"]);
}

/// How long a write may take to become searchable before the test gives up. Generous on
/// purpose: the test asserts that every new application, status change and batch reaches the
/// index, not how fast a busy machine gets there.
const INDEXED_WITHIN: Duration = Duration::from_secs(30);

#[tokio::test]
async fn every_write_becomes_searchable() {
    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    for round in 0..5 {
        let title = format!("Свежая заявка номер{round}");
        let created = file(&mut alice, &title, None, &[]).await;
        wait_for_hits(
            &mut alice,
            search(&format!("номер{round}")),
            1,
            INDEXED_WITHIN,
        )
        .await;

        cancel(&mut alice, &created.id).await;
        let cancelled = pb::SearchApplicationsRequest {
            status: vec![pb::ApplicationStatus::Cancelled as i32],
            ..search(&format!("номер{round}"))
        };
        wait_for_hits(&mut alice, cancelled, 1, INDEXED_WITHIN).await;
    }
    let batch = alice
        .batch_create_applications(pb::BatchCreateApplicationsRequest {
            request_id: String::new(),
            applications: (0..50)
                .map(|index| pb::NewApplication {
                    title: format!("Пакетная{index} заявка"),
                    description: None,
                    items: vec![],
                })
                .collect(),
        })
        .await
        .expect("batch");
    assert_eq!(batch.into_inner().applications.len(), 50);
    wait_for_hits(&mut alice, search("Пакетная49"), 1, INDEXED_WITHIN).await;
}

async fn spawn_on(database: &TestDatabase, index_dir: &Path) -> TestApp {
    let url = database.url().to_owned();
    let dir = index_dir.to_owned();
    spawn_app_with(move |settings| {
        settings.database = DatabaseSettings::new(url);
        settings.search_index_dir = dir;
    })
    .await
}

#[tokio::test]
async fn the_index_catches_up_after_downtime_and_rebuilds_when_deleted_or_corrupt() {
    let database = TestDatabase::fresh();
    let index_dir = tempfile::tempdir().expect("tempdir");
    let other_dir = tempfile::tempdir().expect("tempdir");
    let everything = || pb::SearchApplicationsRequest {
        page_size: 100,
        ..search("принтер")
    };

    let first = spawn_on(&database, index_dir.path()).await;
    let mut olga = first.operator("olga");
    file(&mut first.applicant("alice"), "Принтер лазерный", None, &[]).await;
    file(
        &mut first.applicant("alice"),
        "Картридж для принтера",
        None,
        &[],
    )
    .await;
    wait_for_hits(&mut olga, everything(), 2, Duration::from_secs(3)).await;
    first.stop().await;

    // Rows filed while the first replica was down, through another one with its own index.
    let other = spawn_on(&database, other_dir.path()).await;
    for index in 0..3 {
        file(
            &mut other.applicant("bob"),
            &format!("Принтер цветной {index}"),
            None,
            &[],
        )
        .await;
    }
    other.stop().await;

    let restarted = spawn_on(&database, index_dir.path()).await;
    wait_for_hits(
        &mut restarted.operator("olga"),
        everything(),
        5,
        Duration::from_secs(5),
    )
    .await;
    restarted.stop().await;

    std::fs::remove_dir_all(index_dir.path()).expect("index deleted");
    let rebuilt = spawn_on(&database, index_dir.path()).await;
    wait_for_hits(
        &mut rebuilt.operator("olga"),
        everything(),
        5,
        Duration::from_secs(5),
    )
    .await;
    rebuilt.stop().await;

    std::fs::write(index_dir.path().join("meta.json"), b"{ not json").expect("corrupted");
    let recovered = spawn_on(&database, index_dir.path()).await;
    wait_for_hits(
        &mut recovered.operator("olga"),
        everything(),
        5,
        Duration::from_secs(5),
    )
    .await;
    recovered.stop().await;
}

#[tokio::test]
async fn the_reindex_command_rebuilds_from_postgresql() {
    let app = spawn_app().await;
    file(&mut app.applicant("alice"), "Сканер документов", None, &[]).await;
    let index_dir = tempfile::tempdir().expect("tempdir");
    let documents = application_service::indexing::reindex(&app.pool, index_dir.path())
        .await
        .expect("reindexed");
    assert_eq!(documents, 1);
}

/// A filing is indexed from the values announced while catching up has not passed its
/// transaction (catching up will still read the row); once it has, the row is read again, as
/// it may have changed since (here: cancelled).
#[tokio::test]
async fn announced_filings_behind_the_watermark_are_read_again() {
    use application_service::{
        domain::ApplicationStatus,
        indexing::{IndexedVersions, index_changes},
        service::Change,
        storage,
    };
    use zayavki_search::{SearchIndex, SearchRequest};

    let app = spawn_app().await;
    let mut alice = app.applicant("alice");
    let filed = file(&mut alice, "Стулья офисные", None, &[]).await;
    cancel(&mut alice, &filed.id).await;
    let id: uuid::Uuid = filed.id.parse().expect("uuid");
    let mut connection = app.pool.acquire().await.expect("connection");
    let mut as_filed = storage::applications::find(&mut connection, id)
        .await
        .expect("read")
        .expect("stored");
    as_filed.status = ApplicationStatus::New;
    as_filed.version = 1;

    let transaction = 5_000;
    for (watermark, indexed_status) in [(transaction - 1, "NEW"), (transaction + 1, "CANCELLED")] {
        let index = SearchIndex::create_in_ram().expect("index");
        index
            .upsert(Vec::new(), Some(watermark))
            .expect("watermark");
        let change = Change::Filed {
            transaction,
            applications: vec![as_filed.clone()],
        };
        index_changes(&app.pool, &index, vec![change], &mut IndexedVersions::new())
            .await
            .expect("indexed");
        let found = index
            .search(&SearchRequest {
                statuses: vec![indexed_status.to_owned()],
                ..SearchRequest::new("стул")
            })
            .expect("searched");
        let ids: Vec<uuid::Uuid> = found.hits.iter().map(|hit| hit.id).collect();
        assert_eq!(
            ids,
            [id],
            "watermark {watermark}: indexed as {indexed_status}"
        );
    }
}
