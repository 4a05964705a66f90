//! ADDR-3: creating many addresses from one CSV file (the format is in docs/CSV.md and
//! `core::admin::bulk`). The whole file is validated while the client waits; the creation
//! itself runs as a job whose progress the client polls, and whose result file (with the
//! generated passwords) is handed out once.

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::http::header::LOCATION;
use axum::response::{IntoResponse, Response};
use postwerk_core::{BulkOptions, LineProblem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Authenticated;
use crate::error::{ApiError, ErrorBody, ErrorDetail};
use crate::extract::{ApiBytes, ApiPath, ApiQuery};
use crate::jobs::{JobSnapshot, JobStatus};
use crate::{ApiState, CSV_BODY_LIMIT};

pub fn routes() -> OpenApiRouter<ApiState> {
    let upload = OpenApiRouter::default()
        .routes(routes!(bulk_create))
        .layer(DefaultBodyLimit::max(CSV_BODY_LIMIT));
    OpenApiRouter::default()
        .merge(upload)
        .routes(routes!(job_status))
}

/// How to handle the file.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BulkQuery {
    /// Create the good lines even when some are bad (the bad ones are reported as skipped).
    #[serde(default)]
    skip_invalid: bool,
    /// Only validate: answer the report, create nothing.
    #[serde(default)]
    dry_run: bool,
}

/// A line that cannot be created, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineProblemView {
    /// Its line number in the file (the header is line 1; 0 for the file as a whole).
    line: u64,
    /// The address as written on the line.
    address: String,
    /// Why, in one sentence.
    reason: String,
}

impl From<&LineProblem> for LineProblemView {
    fn from(problem: &LineProblem) -> LineProblemView {
        LineProblemView {
            line: problem.line,
            address: problem.address.clone(),
            reason: problem.reason.clone(),
        }
    }
}

fn problem_views(problems: &[LineProblem]) -> Vec<LineProblemView> {
    problems.iter().map(LineProblemView::from).collect()
}

/// The validation report of a dry run.
#[derive(Serialize, ToSchema)]
pub struct BulkReportView {
    /// How many lines would be created.
    valid: u64,
    /// The bad lines.
    problems: Vec<LineProblemView>,
}

/// A file refused because of bad lines: nothing was created.
#[derive(Serialize, ToSchema)]
pub struct BulkRefusalView {
    /// `invalid_lines`, with a sentence.
    error: ErrorDetail,
    /// Each bad line and why.
    problems: Vec<LineProblemView>,
}

/// A job just started.
#[derive(Serialize, ToSchema)]
pub struct JobStartedView {
    /// Poll `GET /api/v1/jobs/{job}` for its progress.
    job: String,
}

/// Where a job is.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatusName {
    /// Creating addresses.
    Running,
    /// Every line was handled (see `failed`).
    Done,
    /// The run stopped (see `error`); addresses created before stay.
    Failed,
}

/// A bulk-creation job as its owner sees it.
#[derive(Serialize, ToSchema)]
pub struct JobView {
    /// Its identifier.
    id: String,
    /// Where it is.
    status: JobStatusName,
    /// Lines handled so far.
    done: u64,
    /// Lines to handle.
    total: u64,
    /// Addresses created.
    created: u64,
    /// Bad lines left out (`skip_invalid`).
    skipped: Vec<LineProblemView>,
    /// Lines refused at creation (the address appeared meanwhile, say).
    failed: Vec<LineProblemView>,
    /// Why a failed job stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    /// The result file `line,address,password,status,reason`, generated passwords included:
    /// in the first answer after the job ended only, then forgotten.
    #[serde(skip_serializing_if = "Option::is_none")]
    result_csv: Option<String>,
}

impl JobView {
    fn new(id: String, job: JobSnapshot) -> JobView {
        JobView {
            id,
            status: match job.status {
                JobStatus::Running => JobStatusName::Running,
                JobStatus::Done => JobStatusName::Done,
                JobStatus::Failed => JobStatusName::Failed,
            },
            done: job.done,
            total: job.total,
            created: job.created,
            skipped: problem_views(&job.skipped),
            failed: problem_views(&job.failed),
            error: job.error,
            result_csv: job.result_csv.map(|csv| csv.as_str().to_owned()),
        }
    }
}

/// ADDR-3: validates a CSV file of addresses as a whole, then creates them in a job. With bad
/// lines and without `skip_invalid`, nothing is created and the report names each bad line.
#[utoipa::path(
    post,
    path = "/api/v1/services/{domain}/addresses/bulk",
    tag = "bulk",
    params(("domain" = String, Path, description = "The service's primary domain"), BulkQuery),
    request_body(content = String, content_type = "text/csv",
        description = "UTF-8 CSV with a header line naming the columns `address,password,display_name,users,aliases` (only `address` is required; see docs/CSV.md); at most 32 MiB"),
    responses(
        (status = 200, description = "Dry run: the validation report", body = BulkReportView),
        (status = 202, description = "The job started", body = JobStartedView,
            headers(("location" = String, description = "The job's status URL"))),
        (status = 400, description = "The file cannot be read as CSV or lacks the address column", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Not an administrator of its organization", body = ErrorBody),
        (status = 404, description = "No service for the domain", body = ErrorBody),
        (status = 413, description = "The file is over 32 MiB", body = ErrorBody),
        (status = 422, description = "Bad lines, and `skip_invalid` was not asked: nothing was created", body = BulkRefusalView),
    )
)]
async fn bulk_create(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(domain): ApiPath<String>,
    ApiQuery(query): ApiQuery<BulkQuery>,
    ApiBytes(csv): ApiBytes,
) -> Result<Response, ApiError> {
    let actor = caller.actor;
    let plan = state.admin.plan_bulk(actor, &domain, &csv).await?;
    // Up to 32 MiB that the plan no longer needs, while the job may run for minutes.
    drop(csv);
    if query.dry_run {
        let report = BulkReportView {
            valid: plan.lines.len() as u64,
            problems: problem_views(&plan.problems),
        };
        return Ok(Json(report).into_response());
    }
    if !plan.problems.is_empty() && !query.skip_invalid {
        let refusal = BulkRefusalView {
            error: ErrorDetail {
                code: "invalid_lines".into(),
                message: format!(
                    "{} line(s) of the file cannot be created, so nothing was created; fix them, \
                     or send the file again with skip_invalid=true to create the others",
                    plan.problems.len()
                ),
            },
            problems: problem_views(&plan.problems),
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(refusal)).into_response());
    }
    let options = BulkOptions {
        skip_invalid: query.skip_invalid,
    };
    let id = state.jobs.run_bulk(&state.admin, actor, plan, options);
    let location = format!("/api/v1/jobs/{id}");
    Ok((
        StatusCode::ACCEPTED,
        [(LOCATION, location)],
        Json(JobStartedView { job: id }),
    )
        .into_response())
}

/// A bulk-creation job's progress and outcome; only its starter sees it. The result file is
/// in the first answer after the job ended, and never again.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    tag = "bulk",
    params(("id" = String, Path, description = "The job's identifier")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 404, description = "No such job of the caller's (finished jobs are forgotten after an hour)", body = ErrorBody),
    )
)]
async fn job_status(
    State(state): State<ApiState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<JobView>, ApiError> {
    let job = state.jobs.snapshot(&id, caller.actor).ok_or_else(|| {
        ApiError::not_found(format!(
            "there is no job {id} of yours; finished jobs are forgotten after an hour"
        ))
    })?;
    Ok(Json(JobView::new(id, job)))
}
