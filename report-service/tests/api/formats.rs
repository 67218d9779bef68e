//! Each format's content, cell by cell: Cyrillic text, quotes and separators, exact amounts,
//! ISO 8601 times, totals by status and by day, and the XLSX sheet limit.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;
use zayavki_identity::Role;

use crate::{
    fixtures::{ALL_TOTAL, ANNA_TOTAL, file_applications},
    helpers::{purchase_job, spawn_system, summary_job},
};

const COLUMNS: [&str; 8] = [
    "Номер заявки",
    "Заявитель",
    "Название",
    "Статус",
    "Подана",
    "Изменена",
    "Позиций",
    "Сумма",
];

/// The records of a CSV report, after checking the byte order mark and the field counts.
fn csv_records(bytes: &[u8]) -> Vec<Vec<String>> {
    let body = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .expect("UTF-8 with a byte order mark");
    assert!(
        body.windows(2).any(|pair| pair == b"\r\n"),
        "records end with CRLF"
    );
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(false)
        .from_reader(body)
        .records()
        .map(|record| {
            let record = record.expect("an RFC 4180 record of the common width");
            assert_eq!(record.len(), COLUMNS.len());
            record.iter().map(str::to_owned).collect()
        })
        .collect()
}

/// The rows of the table titled `title`: after its title and header records, up to the next
/// empty record.
fn table<'a>(records: &'a [Vec<String>], title: &str, header: &[&str]) -> Vec<&'a [String]> {
    let start = records
        .iter()
        .position(|record| record[0] == title)
        .unwrap_or_else(|| panic!("a table titled {title:?}"));
    let header_record: Vec<&str> = records[start + 1]
        .iter()
        .map(String::as_str)
        .take(header.len())
        .collect();
    assert_eq!(header_record, header, "{title} header");
    records[start + 2..]
        .iter()
        .take_while(|record| record.iter().any(|field| !field.is_empty()))
        .map(|record| &record[..header.len()])
        .collect()
}

fn applied_at(system_row: &Value) -> DateTime<Utc> {
    system_row["appliedAt"]
        .as_str()
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .expect("an ISO 8601 time")
        .with_timezone(&Utc)
}

#[tokio::test]
async fn a_csv_summary_holds_every_row_and_exact_totals() {
    let system = spawn_system(|_| {}).await;
    let filed = file_applications(&system).await;

    let report_id = system.build(&summary_job("olga", "operator", "CSV")).await;
    let records = csv_records(&system.download(report_id, "olga", &[Role::Operator]).await);

    assert_eq!(
        table(&records, "Итого", &["Заявок", "Сумма"]),
        [&["3".to_owned(), ALL_TOTAL.to_owned()][..]]
    );
    let by_status: Vec<Vec<&str>> = table(&records, "По статусам", &["Статус", "Заявок", "Сумма"])
        .into_iter()
        .map(|row| row.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        by_status,
        [
            vec!["NEW", "2", "1487.06"],
            vec!["COMPLETED", "1", "14999.97"]
        ]
    );
    let by_day = table(&records, "По дням (UTC)", &["День", "Заявок", "Сумма"]);
    assert_eq!(by_day.len(), 1, "filed on one day");
    assert_eq!(by_day[0][0], Utc::now().format("%Y-%m-%d").to_string());
    assert_eq!(by_day[0][2], ALL_TOTAL);
    let top = table(
        &records,
        "Позиции с наибольшей суммой",
        &["Позиция", "Количество", "Сумма"],
    );
    assert_eq!(top[0], ["Стул офисный", "3", "14999.97"]);
    assert_eq!(top[3], ["Ручки «Пилот»", "10", "1.50"]);

    let rows = table(&records, "Заявки", &COLUMNS);
    assert_eq!(rows.len(), 3);
    let cartridges = rows
        .iter()
        .find(|row| row[0] == filed.cartridges.to_string())
        .expect("boris's application");
    assert_eq!(cartridges[1], "boris");
    assert_eq!(cartridges[2], "Картриджи, \"HP\"");
    assert_eq!(cartridges[3], "NEW");
    assert_eq!(cartridges[6], "1");
    assert_eq!(cartridges[7], "1234.56");
    let chairs = rows
        .iter()
        .find(|row| row[0] == filed.chairs.to_string())
        .expect("anna's chairs");
    assert_eq!(chairs[3], "COMPLETED");
    assert_eq!(chairs[7], "14999.97");
    assert!(
        DateTime::parse_from_rfc3339(&chairs[4]).is_ok() && chairs[4].ends_with('Z'),
        "{}",
        chairs[4]
    );
}

#[tokio::test]
async fn an_applicants_json_summary_has_only_their_rows() {
    let system = spawn_system(|_| {}).await;
    let filed = file_applications(&system).await;

    let report_id = system
        .build(&summary_job("anna", "applicant", "JSON"))
        .await;
    let document: Value =
        serde_json::from_slice(&system.download(report_id, "anna", &[Role::Applicant]).await)
            .expect("a JSON document");

    assert_eq!(document["reportId"], report_id.to_string());
    assert_eq!(document["kind"], "APPLICATIONS_SUMMARY");
    assert_eq!(document["summary"]["applications"], 2);
    assert_eq!(document["summary"]["totalAmount"], ANNA_TOTAL);
    assert_eq!(
        document["summary"]["byStatus"],
        serde_json::json!([
            {"status": "NEW", "applications": 1, "totalAmount": "252.50"},
            {"status": "COMPLETED", "applications": 1, "totalAmount": "14999.97"},
        ])
    );
    assert_eq!(
        document["summary"]["topItems"][0],
        serde_json::json!({"name": "Стул офисный", "quantity": 3, "totalAmount": "14999.97"})
    );
    let rows = document["rows"].as_array().expect("rows");
    let ids: Vec<&str> = rows.iter().filter_map(|row| row["id"].as_str()).collect();
    let stationery = filed.stationery.to_string();
    let chairs = filed.chairs.to_string();
    // Oldest first.
    assert_eq!(ids, [stationery.as_str(), chairs.as_str()]);
    assert_eq!(rows[0]["title"], "Канцелярия для отдела");
    assert_eq!(
        rows[0]["items"][1],
        serde_json::json!({"name": "Ручки «Пилот»", "quantity": 10, "unitPrice": "0.15",
                           "amount": "1.50"})
    );
    assert_eq!(rows[0]["totalAmount"], "252.50");
    assert!(applied_at(&rows[0]) <= applied_at(&rows[1]));
}

fn sheet(workbook: &mut Xlsx<Cursor<Vec<u8>>>, name: &str) -> calamine::Range<Data> {
    workbook
        .worksheet_range(name)
        .unwrap_or_else(|error| panic!("sheet {name}: {error}"))
}

fn text(range: &calamine::Range<Data>, row: u32, column: u32) -> String {
    match range.get_value((row, column)) {
        Some(Data::String(text)) => text.clone(),
        other => panic!("({row}, {column}) is {other:?}, not text"),
    }
}

/// An amount cell, in minor units.
fn cents(range: &calamine::Range<Data>, row: u32, column: u32) -> i64 {
    match range.get_value((row, column)) {
        Some(Data::Float(value)) => (value * 100.0).round() as i64,
        other => panic!("({row}, {column}) is {other:?}, not a number"),
    }
}

#[tokio::test]
async fn an_xlsx_summary_continues_its_rows_on_new_sheets() {
    let system = spawn_system(|settings| settings.xlsx_rows_per_sheet = 3).await;
    let filed = file_applications(&system).await;

    let report_id = system.build(&summary_job("olga", "operator", "XLSX")).await;
    let bytes = system.download(report_id, "olga", &[Role::Operator]).await;
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("an XLSX workbook");

    assert_eq!(
        workbook.sheet_names(),
        ["Сводка", "Заявки", "Заявки (2)"],
        "two rows per sheet after the header"
    );
    let summary = sheet(&mut workbook, "Сводка");
    let totals_row = (0..summary.height() as u32)
        .find(|row| matches!(summary.get_value((*row, 0)), Some(Data::String(title)) if title == "Итого"))
        .expect("the totals table");
    assert_eq!(
        summary.get_value((totals_row + 2, 0)),
        Some(&Data::Float(3.0))
    );
    assert_eq!(cents(&summary, totals_row + 2, 1), 1_648_703);

    let first = sheet(&mut workbook, "Заявки");
    let second = sheet(&mut workbook, "Заявки (2)");
    for range in [&first, &second] {
        let header: Vec<String> = (0..8).map(|column| text(range, 0, column)).collect();
        assert_eq!(header, COLUMNS);
    }
    assert_eq!(first.height(), 3);
    assert_eq!(second.height(), 2);
    // Oldest first: anna's stationery, anna's chairs, then boris's cartridges.
    assert_eq!(text(&first, 1, 0), filed.stationery.to_string());
    assert_eq!(text(&first, 1, 2), "Канцелярия для отдела");
    assert_eq!(cents(&first, 1, 7), 25_250);
    assert_eq!(text(&first, 2, 3), "COMPLETED");
    assert_eq!(cents(&first, 2, 7), 1_499_997);
    assert_eq!(text(&second, 1, 0), filed.cartridges.to_string());
    assert_eq!(text(&second, 1, 2), "Картриджи, \"HP\"");
    assert_eq!(cents(&second, 1, 7), 123_456);
    let filed_at = match second.get_value((1, 4)) {
        Some(Data::DateTime(at)) => at.as_datetime().expect("a date and time"),
        other => panic!("the filing time is {other:?}"),
    };
    let filed_at_utc: DateTime<Utc> =
        sqlx::query_scalar("SELECT applied_at FROM applications WHERE id = $1")
            .bind(filed.cartridges)
            .fetch_one(&system.applications_pool)
            .await
            .expect("the application");
    let drift = (filed_at - filed_at_utc.naive_utc())
        .num_milliseconds()
        .abs();
    assert!(
        drift <= 1,
        "the cell holds the filing time in UTC ({drift} ms off)"
    );
}

#[tokio::test]
async fn a_purchase_report_shows_the_application_its_items_and_history_in_each_format() {
    let system = spawn_system(|_| {}).await;
    let filed = file_applications(&system).await;

    let mut reports = Vec::new();
    for format in ["CSV", "JSON", "XLSX"] {
        reports.push(
            system
                .build(&purchase_job("anna", filed.chairs, format))
                .await,
        );
    }
    let [csv_report, json_report, xlsx_report]: [Uuid; 3] =
        reports.try_into().expect("three reports");

    let records = csv_records(
        &system
            .download(csv_report, "anna", &[Role::Applicant])
            .await,
    );
    let about = table(&records, "Отчёт о закупке", &["Параметр", "Значение"]);
    assert!(about.contains(&&["Название".to_owned(), "Стулья".to_owned()][..]));
    assert!(about.contains(&&["Статус".to_owned(), "COMPLETED".to_owned()][..]));
    let items = table(
        &records,
        "Позиции",
        &["Позиция", "Количество", "Цена", "Сумма"],
    );
    assert_eq!(
        items,
        [
            &["Стул офисный", "3", "4999.99", "14999.97"].map(str::to_owned)[..],
            &["Итого", "", "", "14999.97"].map(str::to_owned)[..],
        ]
    );
    let history = table(
        &records,
        "История процесса",
        &["Шаг", "Время", "Подробности"],
    );
    assert_eq!(history.len(), 3);
    assert_eq!(history[1][0], "budget.reserved");
    assert_eq!(history[1][1], "2026-12-01T09:00:01Z");
    assert_eq!(history[2][2], r#"{"by":"автоматически"}"#);

    let document: Value = serde_json::from_slice(
        &system
            .download(json_report, "anna", &[Role::Applicant])
            .await,
    )
    .expect("a JSON document");
    assert_eq!(document["kind"], "PURCHASE");
    assert_eq!(document["application"]["id"], filed.chairs.to_string());
    assert_eq!(document["application"]["totalAmount"], "14999.97");
    assert_eq!(document["application"]["items"][0]["amount"], "14999.97");
    assert_eq!(document["history"][2]["details"]["by"], "автоматически");

    let bytes = system
        .download(xlsx_report, "anna", &[Role::Applicant])
        .await;
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).expect("an XLSX workbook");
    let sheet = sheet(&mut workbook, "Заявка");
    let items_row = (0..sheet.height() as u32)
        .find(|row| matches!(sheet.get_value((*row, 0)), Some(Data::String(title)) if title == "Позиции"))
        .expect("the items table");
    assert_eq!(text(&sheet, items_row + 2, 0), "Стул офисный");
    assert_eq!(sheet.get_value((items_row + 2, 1)), Some(&Data::Float(3.0)));
    assert_eq!(cents(&sheet, items_row + 2, 2), 499_999);
    assert_eq!(cents(&sheet, items_row + 3, 3), 1_499_997);
}

#[tokio::test]
async fn a_purchase_report_of_an_application_that_is_not_completed_fails_with_its_reason() {
    let system = spawn_system(|_| {}).await;
    let filed = file_applications(&system).await;
    let job = purchase_job("anna", filed.stationery, "CSV");
    let report_id: Uuid = job["reportId"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("id");

    system.publish_job(&job).await;
    system.wait_for_status(report_id, "FAILED").await;

    let report: Value = system
        .get_as(&format!("/reports/{report_id}"), "anna", &[Role::Applicant])
        .await
        .json()
        .await
        .expect("the report");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|error| error.contains("not COMPLETED")),
        "{report}"
    );
    assert!(report.get("downloadUrl").is_none());
}
