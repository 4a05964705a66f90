//! ADDR-3 in the console: creating many addresses from a CSV file. The upload is validated
//! whole (`Admin::plan_bulk`); with bad lines the report names each one and why, and offers to
//! create the others; the creation runs as a job of the same registry as the REST API's bulk
//! endpoint, followed on a progress page that works by reloading (without JavaScript) and is
//! updated live by `console.js` from a small JSON answer.
//!
//! The result file with the generated passwords is handed out once by the job registry: to
//! whichever asks first after the end, the page or the JSON answer, which therefore carries it
//! too so the script can show it.

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use postwerk_core::{BulkOptions, LineProblem};
use serde::Serialize;

use super::forms::segment;
use crate::jobs::{JobSnapshot, JobStatus};
use crate::ui::page::{self, Layout, PageError, PageUser};
use crate::{ApiState, CSV_BODY_LIMIT};

pub fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/manager/services/{domain}/bulk",
            get(upload_page)
                .post(upload)
                .layer(DefaultBodyLimit::max(CSV_BODY_LIMIT)),
        )
        .route("/manager/jobs/{id}", get(progress_page))
        .route("/manager/jobs/{id}/progress", get(progress_json))
}

#[derive(askama::Template)]
#[template(path = "console/bulk.html")]
struct UploadPage {
    layout: Layout,
    domain: String,
    base: String,
    problem: Option<String>,
}

impl UploadPage {
    /// The upload form of the service `domain`, with the problem of a failed upload.
    fn new(me: &PageUser, domain: String, problem: Option<String>) -> UploadPage {
        UploadPage {
            layout: me.layout(format!("Import addresses into {domain}"), "manager"),
            base: format!("/manager/services/{}", segment(&domain)),
            domain,
            problem,
        }
    }
}

/// `…/bulk`: the upload form.
async fn upload_page(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
) -> Result<Response, PageError> {
    // Administrators only, as the upload itself: a refusal shows now rather than after it.
    let (service, _) = state.admin.service(me.caller.actor, &domain).await?;
    Ok(page::render(&UploadPage::new(
        &me,
        service.domain.to_string(),
        None,
    )))
}

/// A bad line, in the report, on the progress page and in its JSON.
#[derive(Serialize)]
struct ProblemLine {
    line: u64,
    address: String,
    reason: String,
}

fn problem_lines(problems: &[LineProblem]) -> Vec<ProblemLine> {
    problems
        .iter()
        .map(|p| ProblemLine {
            line: p.line,
            address: p.address.clone(),
            reason: p.reason.clone(),
        })
        .collect()
}

#[derive(askama::Template)]
#[template(path = "console/bulk_report.html")]
struct ReportPage {
    layout: Layout,
    domain: String,
    base: String,
    valid: usize,
    problems: Vec<ProblemLine>,
    /// The file again, so "create the others" needs no second upload.
    csv: String,
}

/// What the upload form sent.
struct Upload {
    csv: Vec<u8>,
    skip_invalid: bool,
}

async fn read_upload(mut multipart: Multipart) -> Result<Upload, PageError> {
    let unreadable = || {
        PageError::invalid(
            "The upload could not be read. Choose the file again and send the form once more.",
        )
    };
    let mut upload = Upload {
        csv: Vec::new(),
        skip_invalid: false,
    };
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        match field.name() {
            Some("csv") | Some("csv_text") => {
                let bytes = field.bytes().await.map_err(|_| unreadable())?;
                if !bytes.is_empty() {
                    upload.csv = bytes.to_vec();
                }
            }
            Some("skip_invalid") => upload.skip_invalid = true,
            _ => {}
        }
    }
    if upload.csv.is_empty() {
        return Err(PageError::invalid("Choose a CSV file to import."));
    }
    Ok(upload)
}

/// Validates the file; with bad lines (and no leave to skip them) shows the report, else
/// starts the job and goes to its progress page.
async fn upload(
    State(state): State<ApiState>,
    me: PageUser,
    Path(domain): Path<String>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let actor = me.caller.actor;
    let upload = match read_upload(multipart).await {
        Ok(upload) => upload,
        Err(problem) => {
            let page = UploadPage::new(&me, domain, Some(problem.message().to_owned()));
            return Ok(page::render_with(StatusCode::BAD_REQUEST, &page));
        }
    };
    let base = format!("/manager/services/{}", segment(&domain));
    let plan = state.admin.plan_bulk(actor, &domain, &upload.csv).await?;
    if !plan.problems.is_empty() && !upload.skip_invalid {
        let page = ReportPage {
            layout: me.layout("Some lines cannot be created", "manager"),
            valid: plan.lines.len(),
            problems: problem_lines(&plan.problems),
            csv: String::from_utf8_lossy(&upload.csv).into_owned(),
            domain,
            base,
        };
        return Ok(page::render_with(StatusCode::UNPROCESSABLE_ENTITY, &page));
    }
    let skip_invalid = upload.skip_invalid;
    // Up to 32 MiB the plan no longer needs while the job runs.
    drop(upload);
    let id = state
        .jobs
        .run_bulk(&state.admin, actor, plan, BulkOptions { skip_invalid });
    Ok(page::see_other(
        &format!("/manager/jobs/{id}"),
        "The addresses are being created.",
    ))
}

fn not_found(id: &str) -> PageError {
    PageError::not_found(format!(
        "There is no import {id} of yours; finished imports are forgotten after an hour."
    ))
}

#[derive(askama::Template)]
#[template(path = "console/bulk_progress.html")]
struct ProgressPage {
    layout: Layout,
    id: String,
    running: bool,
    failed_run: bool,
    /// The same view as the JSON answer the script polls.
    job: ProgressView,
}

/// `/manager/jobs/{id}`: where the import stands; the result file once, when it ended.
async fn progress_page(
    State(state): State<ApiState>,
    me: PageUser,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let job = state
        .jobs
        .snapshot(&id, me.caller.actor)
        .ok_or_else(|| not_found(&id))?;
    Ok(page::render(&ProgressPage {
        layout: me.layout("Importing addresses", "manager"),
        running: job.status == JobStatus::Running,
        failed_run: job.status == JobStatus::Failed,
        job: ProgressView::from(job),
        id,
    }))
}

/// The JSON `console.js` polls.
#[derive(Serialize)]
struct ProgressView {
    status: &'static str,
    done: u64,
    total: u64,
    created: u64,
    skipped: Vec<ProblemLine>,
    failed: Vec<ProblemLine>,
    error: Option<String>,
    /// Present in the first answer after the end only (the generated passwords).
    result_csv: Option<String>,
}

impl From<JobSnapshot> for ProgressView {
    fn from(job: JobSnapshot) -> ProgressView {
        ProgressView {
            status: match job.status {
                JobStatus::Running => "running",
                JobStatus::Done => "done",
                JobStatus::Failed => "failed",
            },
            done: job.done,
            total: job.total,
            created: job.created,
            skipped: problem_lines(&job.skipped),
            failed: problem_lines(&job.failed),
            error: job.error,
            result_csv: job.result_csv.map(|csv| csv.as_str().to_owned()),
        }
    }
}

/// `/manager/jobs/{id}/progress`: the same as the page, as JSON.
async fn progress_json(
    State(state): State<ApiState>,
    me: PageUser,
    Path(id): Path<String>,
) -> Response {
    match state.jobs.snapshot(&id, me.caller.actor) {
        Some(job) => Json(ProgressView::from(job)).into_response(),
        None => not_found(&id).into_response(),
    }
}
