//! The application state both in-process suites (`tests/api`, `tests/ui`) drive: a real
//! SQLite store in a temporary folder, a real audit log, and a mailer that keeps what it would
//! send. Included by each suite's `fixture.rs` with `#[path]`, so the two cannot drift apart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::HeaderMap;
use postwerk_core::{
    Actor, Admin, Audit, CoreError, FailureLimiter, FailurePolicy, Identity, MailboxAuth, Mailer,
    ManagerAuth, Notification, Notifier, OutboxGateway, Recovery,
};
use postwerk_dns::FakeResolver;
use postwerk_store::{Stores, TokenScope};
use postwerk_web::{ApiState, IdentityServices};

/// The platform's host name in these tests.
pub const HOSTNAME: &str = "mail.platform.test";

/// Keeps the notifications (invitations, recovery codes) instead of sending them.
#[derive(Default)]
pub struct RecordingMailer {
    pub sent: Mutex<Vec<Notification>>,
}

#[async_trait::async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, notification: Notification) -> Result<(), CoreError> {
        self.sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(notification);
        Ok(())
    }
}

/// Failed sign-ins cost no time in tests, and the lockout comes after `lockout_after`.
pub fn quick_policy(lockout_after: u32) -> FailurePolicy {
    FailurePolicy {
        free_failures: 1000,
        delay_step: Duration::ZERO,
        max_delay: Duration::ZERO,
        lockout_after,
        lockout: Duration::from_secs(600),
    }
}

/// The state over a new store, before any suite-specific part (the webmail) is added.
pub struct Site {
    /// The store's folder, kept for the test's duration.
    pub dir: tempfile::TempDir,
    pub stores: Stores,
    pub state: ApiState,
    pub mailer: Arc<RecordingMailer>,
}

impl Site {
    /// A new store and the state over it: sign-in failures limited by `policy`, links in
    /// notifications pointing at `public_url`.
    pub async fn open(policy: FailurePolicy, public_url: &str) -> Site {
        let dir = tempfile::tempdir().unwrap();
        let stores = postwerk_store::open_sqlite(&dir.path().join("data"))
            .await
            .unwrap();
        let mailer = Arc::new(RecordingMailer::default());
        // A real audit log, so the tests read what the API recorded (ID-11).
        let audit = Audit::start(stores.identity.clone());
        let admin = Admin::from_stores(&stores)
            .with_mailer(mailer.clone())
            .with_public_url(public_url)
            .with_audit(audit.clone());
        let limiter = Arc::new(FailureLimiter::new(policy));
        let auth = ManagerAuth::new(
            stores.directory.clone(),
            stores.manager.clone(),
            stores.identity.clone(),
            limiter.clone(),
        )
        .with_audit(audit.clone());
        let identity = Identity::new(&stores, audit.clone());
        let notifier = Notifier::new(
            Some(mailer.clone()),
            Arc::new(OutboxGateway::new(stores.identity.clone())),
        );
        let services = IdentityServices {
            recovery: Recovery::new(
                &stores,
                identity.clone(),
                notifier,
                audit.clone(),
                limiter.clone(),
            ),
            identity,
            mailbox_auth: Arc::new(
                MailboxAuth::new(stores.directory.clone(), limiter).with_audit(audit.clone()),
            ),
            audit,
            directory: stores.directory.clone(),
        };
        let state = ApiState::new(
            admin,
            auth,
            services,
            HOSTNAME,
            Arc::new(FakeResolver::new()),
            true,
        );
        Site {
            dir,
            stores,
            state,
            mailer,
        }
    }

    /// A new write-scope token of the platform operator, for setting things up.
    pub async fn operator_token(&self) -> String {
        self.state
            .auth
            .create_token(Actor::Operator, "tests", TokenScope::Write, None)
            .await
            .unwrap()
            .secret
            .as_str()
            .to_owned()
    }
}

/// The value of `postwerk_session` in a `Set-Cookie`; `None` when absent or cleared.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|value| value.strip_prefix("postwerk_session="))
        .map(|rest| rest.split(';').next().unwrap_or_default().to_owned())
        .filter(|value| !value.is_empty())
}
