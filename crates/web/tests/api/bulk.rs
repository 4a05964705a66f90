//! ADDR-3 through the API: a CSV file validated as a whole, a report naming each bad line,
//! then a job whose result file (with the generated passwords) is handed out once.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;

use crate::fixture::{Answer, Api};

const CSV: &str = "address,display_name\n\
                   good1,Good One\n\
                   not an address!,Bad\n\
                   good1,Duplicate\n\
                   good2,Good Two\n";

const BULK: &str = "/api/v1/services/example.test/addresses/bulk";

fn problem_lines(answer: &Answer) -> Vec<u64> {
    answer.body["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert!(p["reason"].as_str().unwrap().len() > 5, "{p}");
            p["line"].as_u64().unwrap()
        })
        .collect()
}

async fn address_count(api: &Api) -> Value {
    api.get("/api/v1/services/example.test/addresses")
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK)
        .body["total"]
        .clone()
}

/// Polls the job until it is no longer running, and answers that first final answer.
async fn wait_for(api: &Api, job: &str) -> Answer {
    for _ in 0..400 {
        let answer = api
            .get(&format!("/api/v1/jobs/{job}"))
            .bearer(&api.operator)
            .send()
            .await
            .expect(StatusCode::OK);
        if answer.body["status"] != "running" {
            return answer;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the job did not end");
}

#[tokio::test]
async fn a_file_with_bad_lines_is_refused_with_a_report_and_creates_nothing() {
    let api = Api::new().await.with_acme().await;
    let refused = api.post(BULK).bearer(&api.operator).csv(CSV).send().await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.body
    );
    assert_eq!(refused.body["error"]["code"], "invalid_lines");
    assert_eq!(problem_lines(&refused), [3, 4]);
    assert_eq!(refused.body["problems"][0]["address"], "not an address!");
    assert_eq!(address_count(&api).await, 0);

    let report = api
        .post(&format!("{BULK}?dry_run=true&skip_invalid=true"))
        .bearer(&api.operator)
        .csv(CSV)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(report.body["valid"], 2);
    assert_eq!(problem_lines(&report), [3, 4]);
    assert_eq!(address_count(&api).await, 0, "a dry run creates nothing");

    api.post(BULK)
        .bearer(&api.operator)
        .csv("name\nx\n")
        .send()
        .await
        .expect_error(StatusCode::BAD_REQUEST, "invalid");
}

#[tokio::test]
async fn skipping_bad_lines_runs_a_job_whose_passwords_are_shown_once() {
    let api = Api::new().await.with_acme().await;
    let started = api
        .post(&format!("{BULK}?skip_invalid=true"))
        .bearer(&api.operator)
        .csv(CSV)
        .send()
        .await
        .expect(StatusCode::ACCEPTED);
    let job = started.body["job"].as_str().unwrap().to_owned();
    assert_eq!(started.headers["location"], format!("/api/v1/jobs/{job}"));

    let done = wait_for(&api, &job).await;
    assert_eq!(done.body["status"], "done", "{}", done.body);
    assert_eq!(done.body["created"], 2);
    assert_eq!(done.body["total"], done.body["done"]);
    let skipped: Vec<u64> = done.body["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["line"].as_u64().unwrap())
        .collect();
    assert_eq!(skipped, [3, 4]);
    let csv = done.body["result_csv"].as_str().expect("the result file");
    let good1 = csv
        .lines()
        .find(|line| line.contains("good1@example.test"))
        .expect("a row for good1");
    let password = good1.split(',').nth(2).unwrap_or_default();
    assert!(password.len() >= 12, "a generated password: {good1}");

    let again = api
        .get(&format!("/api/v1/jobs/{job}"))
        .bearer(&api.operator)
        .send()
        .await
        .expect(StatusCode::OK);
    assert_eq!(again.body["status"], "done");
    assert!(again.body.get("result_csv").is_none(), "shown once");
    assert_eq!(address_count(&api).await, 2);

    // Somebody else's job does not exist for them.
    api.user("boss@outside.test", "owner").await;
    let session = api.sign_in("boss@outside.test").await;
    api.get(&format!("/api/v1/jobs/{job}"))
        .cookie(&session)
        .send()
        .await
        .expect_error(StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn files_larger_than_a_json_body_are_accepted_up_to_32_mib() {
    let api = Api::new().await.with_acme().await;
    let long_name = "n".repeat(postwerk_web::JSON_BODY_LIMIT);
    let big = format!("address,display_name\nuser1,{long_name}\nuser2,Short\n");
    let report = api
        .post(&format!("{BULK}?dry_run=true"))
        .bearer(&api.operator)
        .csv(&big)
        .send()
        .await
        .expect(StatusCode::OK);
    let handled = report.body["valid"].as_u64().unwrap()
        + report.body["problems"].as_array().unwrap().len() as u64;
    assert_eq!(handled, 2, "both lines were read: {}", report.body);

    let too_big = "a".repeat(postwerk_web::CSV_BODY_LIMIT + 1);
    api.post(BULK)
        .bearer(&api.operator)
        .csv(&too_big)
        .send()
        .await
        .expect_error(StatusCode::PAYLOAD_TOO_LARGE, "too_large");
}

#[tokio::test]
async fn a_member_cannot_upload_a_file() {
    let api = Api::new().await.with_acme().await;
    api.user("member@outside.test", "member").await;
    let session = api.sign_in("member@outside.test").await;
    api.post(BULK)
        .cookie(&session)
        .csv(CSV)
        .send()
        .await
        .expect_error(StatusCode::FORBIDDEN, "forbidden");
}
