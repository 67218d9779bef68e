//! Monthly budgets: reading one's own or anyone's, and operators setting them.

use business_process::{
    domain::{Month, ProcessState},
    storage::budgets,
};
use chrono::Utc;
use tonic::Code;
use zayavki_proto::process::v1 as pb;

use super::{ApiServer, DEFAULT_BUDGET, money, refused_with, spawn_api};

fn budget_of(applicant: &str, month: &str) -> pb::GetBudgetRequest {
    pb::GetBudgetRequest {
        applicant: applicant.to_owned(),
        month: month.to_owned(),
    }
}

fn set(applicant: &str, monthly_limit: &str) -> pb::SetBudgetRequest {
    pb::SetBudgetRequest {
        applicant: applicant.to_owned(),
        monthly_limit: monthly_limit.to_owned(),
    }
}

/// Holds `reserved` of `applicant`'s current month and spends `committed` of it.
async fn use_budget(api: &ApiServer, applicant: &str, reserved: &str, committed: &str) {
    let month = Month::of(Utc::now());
    let held = api
        .seed(applicant, ProcessState::AwaitingDecision, reserved)
        .await;
    let spent = api
        .seed(applicant, ProcessState::Completed, committed)
        .await;
    let mut connection = api.pool.acquire().await.expect("connection");
    for (id, amount) in [(held, reserved), (spent, committed)] {
        budgets::reserve(
            &mut connection,
            id,
            applicant,
            month,
            money(amount),
            money(DEFAULT_BUDGET),
        )
        .await
        .expect("reserved");
    }
    assert!(
        budgets::commit(&mut connection, spent)
            .await
            .expect("committed")
    );
}

#[tokio::test]
async fn a_budget_shows_the_limit_and_what_is_held_and_spent_of_the_month() {
    let api = spawn_api().await;
    use_budget(&api, "alice", "300.00", "200.00").await;
    let this_month = Month::of(Utc::now()).to_string();

    let own = api
        .applicant("alice")
        .get_budget(budget_of("", ""))
        .await
        .expect("her own budget")
        .into_inner();

    assert_eq!(
        own,
        pb::Budget {
            applicant: "alice".to_owned(),
            month: this_month.clone(),
            monthly_limit: DEFAULT_BUDGET.to_owned(),
            reserved: "300.00".to_owned(),
            committed: "200.00".to_owned(),
            available: "99500.00".to_owned(),
            default_limit: true,
        }
    );
    let long_ago = api
        .service()
        .get_budget(budget_of("alice", "2020-01"))
        .await
        .expect("any budget for a service")
        .into_inner();
    assert_eq!(long_ago.month, "2020-01");
    assert_eq!(long_ago.reserved, "0.00");
    assert_eq!(long_ago.available, DEFAULT_BUDGET);

    let someone_elses = api
        .applicant("bob")
        .get_budget(budget_of("alice", ""))
        .await
        .expect_err("bob may not see alice's budget");
    assert_eq!(someone_elses.code(), Code::NotFound);
    let wrong_month = api
        .applicant("alice")
        .get_budget(budget_of("", "2026-13"))
        .await
        .expect_err("no such month");
    assert_eq!(refused_with(&wrong_month, Code::InvalidArgument), ["month"]);
}

#[tokio::test]
async fn an_operator_sets_a_limit_and_what_is_available_never_goes_below_zero() {
    let api = spawn_api().await;
    use_budget(&api, "alice", "300.00", "200.00").await;
    let mut operator = api.operator("olga");

    let raised = operator
        .set_budget(set("alice", "250000.5"))
        .await
        .expect("set")
        .into_inner();
    assert_eq!(raised.monthly_limit, "250000.50");
    assert!(!raised.default_limit);
    assert_eq!(raised.available, "249500.50");
    assert_eq!(raised.month, Month::of(Utc::now()).to_string());

    let lowered = operator
        .set_budget(set("alice", "400.00"))
        .await
        .expect("set")
        .into_inner();
    assert_eq!(lowered.available, "0.00", "500.00 is used of 400.00");
    let seen_by_alice = api
        .applicant("alice")
        .get_budget(budget_of("alice", ""))
        .await
        .expect("her own")
        .into_inner();
    assert_eq!(seen_by_alice, lowered);
    let recorded_by: String =
        sqlx::query_scalar("SELECT updated_by FROM budgets WHERE applicant = 'alice'")
            .fetch_one(&api.pool)
            .await
            .expect("stored");
    assert_eq!(recorded_by, "olga");
}

#[tokio::test]
async fn setting_a_budget_is_for_operators_and_names_each_wrong_field() {
    let api = spawn_api().await;
    for mut caller in [api.applicant("alice"), api.service()] {
        let refused = caller
            .set_budget(set("alice", "1.00"))
            .await
            .expect_err("not an operator");
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    let mut operator = api.operator("olga");
    let both_wrong = operator
        .set_budget(set("  ", "12.345"))
        .await
        .expect_err("invalid");
    assert_eq!(
        refused_with(&both_wrong, Code::InvalidArgument),
        ["applicant", "monthly_limit"]
    );
    for amount in ["-5.00", "", "1e6", "12,50"] {
        let refused = operator
            .set_budget(set("alice", amount))
            .await
            .expect_err(amount);
        assert_eq!(
            refused_with(&refused, Code::InvalidArgument),
            ["monthly_limit"],
            "{amount:?}"
        );
    }
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM budgets")
        .fetch_one(&api.pool)
        .await
        .expect("counted");
    assert_eq!(stored, 0);
}
