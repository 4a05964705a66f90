//! ADDR-3: the bulk-creation jobs started through the API, kept in memory.
//!
//! A job belongs to the caller who started it and is visible to nobody else. Its result CSV
//! (the generated passwords, shown once) is handed out by the first status request after the
//! job ends and then dropped. Finished jobs are forgotten an hour after they end; the registry
//! is pruned whenever it is used, so it needs no task of its own. A server restart forgets
//! every job: the addresses already created stay, and the status is lost.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use postwerk_core::{Actor, Admin, BulkOptions, BulkOutcome, BulkPlan, LineProblem};
use zeroize::Zeroizing;

use crate::error::ApiError;

/// How long a finished job stays visible.
pub const FINISHED_JOB_LIFETIME: Duration = Duration::from_secs(3600);

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Creating addresses.
    Running,
    /// Every line was handled (some may have failed).
    Done,
    /// The run stopped before handling every line.
    Failed,
}

/// What a status request sees of a job.
#[derive(Debug)]
pub struct JobSnapshot {
    /// Where it is.
    pub status: JobStatus,
    /// Lines handled so far.
    pub done: u64,
    /// Lines to handle.
    pub total: u64,
    /// Addresses created.
    pub created: u64,
    /// Bad lines left out (`skip_invalid`).
    pub skipped: Vec<LineProblem>,
    /// Lines refused at creation.
    pub failed: Vec<LineProblem>,
    /// Why the run stopped, for a failed job.
    pub error: Option<String>,
    /// The result file, on the first request after the job ended only.
    pub result_csv: Option<Zeroizing<String>>,
}

struct Job {
    owner: Actor,
    status: JobStatus,
    done: u64,
    total: u64,
    created: u64,
    skipped: Vec<LineProblem>,
    failed: Vec<LineProblem>,
    error: Option<String>,
    result_csv: Option<Zeroizing<String>>,
    finished_at: Option<Instant>,
}

/// The registry of jobs; clones share it.
#[derive(Clone, Default)]
pub struct Jobs {
    jobs: Arc<Mutex<HashMap<String, Job>>>,
}

impl Jobs {
    /// An empty registry.
    pub fn new() -> Jobs {
        Jobs::default()
    }

    /// Registers a running job of `owner` over `total` lines and answers its identifier: 128
    /// random bits, so a job cannot be found by guessing even before the owner check.
    pub fn start(&self, owner: Actor, total: u64) -> String {
        let id = format!("{:032x}", rand::random::<u128>());
        let mut jobs = self.lock();
        prune(&mut jobs, Instant::now());
        jobs.insert(
            id.clone(),
            Job {
                owner,
                status: JobStatus::Running,
                done: 0,
                total,
                created: 0,
                skipped: Vec::new(),
                failed: Vec::new(),
                error: None,
                result_csv: None,
                finished_at: None,
            },
        );
        id
    }

    /// Starts creating the addresses of `plan` for `owner` in the background and answers the
    /// job's identifier; the REST endpoint and the console's import page both start jobs here.
    /// Two tasks: the run, and a watcher that records its end even when the run panics, so no
    /// job stays "running" (and in memory) forever.
    pub(crate) fn run_bulk(
        &self,
        admin: &Admin,
        owner: Actor,
        plan: BulkPlan,
        options: BulkOptions,
    ) -> String {
        let id = self.start(owner, plan.lines.len() as u64);
        let (admin, jobs, job) = (admin.clone(), self.clone(), id.clone());
        let worker = tokio::spawn(async move {
            let progress = |done, total| jobs.progress(&job, done, total);
            admin.run_bulk(owner, plan, options, &progress).await
        });
        let (jobs, job) = (self.clone(), id.clone());
        tokio::spawn(async move {
            match worker.await {
                Ok(Ok(outcome)) => jobs.finish(&job, &outcome),
                Ok(Err(error)) => jobs.fail(&job, ApiError::from(error).message().to_owned()),
                Err(stopped) => jobs.fail(&job, ApiError::internal(&stopped).message().to_owned()),
            }
        });
        id
    }

    /// Records progress.
    pub fn progress(&self, id: &str, done: u64, total: u64) {
        if let Some(job) = self.lock().get_mut(id) {
            job.done = done;
            job.total = total;
        }
    }

    /// Records the end of a run that handled every line.
    pub fn finish(&self, id: &str, outcome: &BulkOutcome) {
        self.finish_at(id, outcome, Instant::now());
    }

    fn finish_at(&self, id: &str, outcome: &BulkOutcome, now: Instant) {
        let csv = Zeroizing::new(outcome.result_csv());
        if let Some(job) = self.lock().get_mut(id) {
            job.status = JobStatus::Done;
            job.done = job.total;
            job.created = outcome.created.len() as u64;
            job.skipped = outcome.skipped.clone();
            job.failed = outcome.failed.clone();
            job.result_csv = Some(csv);
            job.finished_at = Some(now);
        }
    }

    /// Records a run that stopped: `error` is the sentence shown to the owner.
    pub fn fail(&self, id: &str, error: String) {
        self.fail_at(id, error, Instant::now());
    }

    fn fail_at(&self, id: &str, error: String, now: Instant) {
        if let Some(job) = self.lock().get_mut(id) {
            job.status = JobStatus::Failed;
            job.error = Some(error);
            job.finished_at = Some(now);
        }
    }

    /// The job `id` as its owner sees it; `None` when it does not exist, is forgotten, or is
    /// someone else's. Hands out the result CSV once.
    pub fn snapshot(&self, id: &str, caller: Actor) -> Option<JobSnapshot> {
        self.snapshot_at(id, caller, Instant::now())
    }

    fn snapshot_at(&self, id: &str, caller: Actor, now: Instant) -> Option<JobSnapshot> {
        let mut jobs = self.lock();
        prune(&mut jobs, now);
        let job = jobs.get_mut(id).filter(|job| job.owner == caller)?;
        Some(JobSnapshot {
            status: job.status,
            done: job.done,
            total: job.total,
            created: job.created,
            skipped: job.skipped.clone(),
            failed: job.failed.clone(),
            error: job.error.clone(),
            result_csv: job.result_csv.take(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Job>> {
        // A panic while holding the lock leaves plain counters behind, still worth reading.
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn prune(jobs: &mut HashMap<String, Job>, now: Instant) {
    jobs.retain(|_, job| {
        job.finished_at
            .is_none_or(|at| now.saturating_duration_since(at) < FINISHED_JOB_LIFETIME)
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use postwerk_model::UserId;

    const OWNER: Actor = Actor::User(UserId(7));

    fn problem(line: u64) -> LineProblem {
        LineProblem {
            line,
            address: "bad".into(),
            reason: "not an address".into(),
        }
    }

    #[test]
    fn progress_is_seen_by_the_owner_only() {
        let jobs = Jobs::new();
        let id = jobs.start(OWNER, 10);
        jobs.progress(&id, 4, 10);
        let seen = jobs.snapshot(&id, OWNER).unwrap();
        assert_eq!(
            (seen.status, seen.done, seen.total),
            (JobStatus::Running, 4, 10)
        );
        assert!(jobs.snapshot(&id, Actor::User(UserId(8))).is_none());
        assert!(jobs.snapshot(&id, Actor::Operator).is_none());
        assert!(jobs.snapshot("0123", OWNER).is_none());
    }

    #[test]
    fn a_failed_run_says_why_and_has_no_result_file() {
        let jobs = Jobs::new();
        let id = jobs.start(OWNER, 3);
        jobs.fail(&id, "the mail service example.com no longer exists".into());
        let seen = jobs.snapshot(&id, OWNER).unwrap();
        assert_eq!(seen.status, JobStatus::Failed);
        assert!(seen.error.unwrap().contains("no longer exists"));
        assert!(seen.result_csv.is_none());
    }

    #[test]
    fn finished_jobs_report_their_lists_and_are_forgotten_after_an_hour() {
        let jobs = Jobs::new();
        let id = jobs.start(OWNER, 2);
        let outcome = BulkOutcome {
            created: Vec::new(),
            skipped: vec![problem(3)],
            failed: vec![problem(5)],
        };
        let ended = Instant::now();
        jobs.finish_at(&id, &outcome, ended);
        let first = jobs.snapshot_at(&id, OWNER, ended).unwrap();
        let csv = first
            .result_csv
            .expect("the result file on the first request");
        assert!(
            csv.starts_with("line,address,password,status,reason"),
            "{}",
            *csv
        );
        assert_eq!(
            (first.status, first.done, first.created),
            (JobStatus::Done, 2, 0)
        );
        assert_eq!(first.skipped, vec![problem(3)]);
        assert_eq!(first.failed, vec![problem(5)]);
        let second = jobs.snapshot_at(&id, OWNER, ended).unwrap();
        assert!(second.result_csv.is_none(), "the passwords are shown once");
        let later = ended + FINISHED_JOB_LIFETIME - Duration::from_secs(1);
        assert!(jobs.snapshot_at(&id, OWNER, later).is_some());
        let gone = ended + FINISHED_JOB_LIFETIME;
        assert!(jobs.snapshot_at(&id, OWNER, gone).is_none());
    }

    #[test]
    fn running_jobs_are_never_pruned() {
        let jobs = Jobs::new();
        let id = jobs.start(OWNER, 1);
        let much_later = Instant::now() + FINISHED_JOB_LIFETIME * 10;
        assert!(jobs.snapshot_at(&id, OWNER, much_later).is_some());
    }
}
