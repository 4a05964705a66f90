//! ID-12: the SMS side of the notifier, and its default gateway, the outbox.

use std::sync::Arc;

use async_trait::async_trait;
use postwerk_store::IdentityStore;

use crate::CoreError;

/// Sends text messages to phones (ID-12). Two implementations: [`OutboxGateway`] (the default:
/// the message is written to the store's outbox, which the administrator reads with
/// `postwerk admin notifications list`) and [`super::WebhookGateway`] (an HTTP request to a
/// configured provider).
#[async_trait]
pub trait SmsGateway: Send + Sync {
    /// Hands the text over; `Err` when the gateway refused it or could not be reached.
    async fn send(&self, phone: &str, text: &str) -> Result<(), CoreError>;
}

/// The default gateway: writes to the outbox table.
#[derive(Clone)]
pub struct OutboxGateway {
    store: Arc<dyn IdentityStore>,
}

impl std::fmt::Debug for OutboxGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxGateway").finish_non_exhaustive()
    }
}

impl OutboxGateway {
    /// Writes to `store`'s outbox.
    pub fn new(store: Arc<dyn IdentityStore>) -> OutboxGateway {
        OutboxGateway { store }
    }
}

#[async_trait]
impl SmsGateway for OutboxGateway {
    async fn send(&self, phone: &str, text: &str) -> Result<(), CoreError> {
        let now = chrono::Utc::now().timestamp();
        self.store.push_sms(phone, text, now).await?;
        Ok(())
    }
}
