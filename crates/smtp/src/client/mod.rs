//! The outbound SMTP client (SND-3): the [`Transport`] the queue delivers through.
//!
//! ```text
//!  Transport::deliver(attempt, content)
//!     │
//!     ├─► mx::route          MX by preference (implicit MX, null MX, NXDOMAIN) — RFC 5321 §5.1
//!     ├─► mx::policy         per host: opportunistic TLS, or DANE from TLSA — RFC 7672 §2.2
//!     ├─► sts::discover      the domain's MTA-STS policy (TXT, HTTPS, cache) — RFC 8461 §3, §5.1
//!     ├─► sts::apply         enforce: matching hosts only, WebPKI-valid TLS; DANE wins — §4, §5
//!     ├─► pool::take         an idle session to the domain, secure enough for its host
//!     │     or
//!     ├─► Dialer::establish  per host, per address: connect, 220, EHLO, STARTTLS (dane.rs
//!     │                      verifies the certificate), EHLO again
//!     ├─► transaction::run   MAIL, RCPT…, DATA (pipelined when offered), dot-stuffed data
//!     └─► pool::put (RSET) or QUIT; one outcome per recipient, logged
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use postwerk_queue::{Attempt, Failure, Outcome, Transport};
use rustls_pki_types::CertificateDer;

mod dane;
mod mx;
mod outcome;
mod pool;
mod reply;
mod session;
mod sts;
mod tls;
mod transaction;

#[cfg(test)]
mod tests;

use outcome::status;
use pool::Pool;
use session::{Dialer, Session};
use sts::Sts;
use tls::{TlsConfigs, TlsPolicy};
use transaction::After;

/// Time limits for each step of the dialogue. The defaults are RFC 5321 §4.5.3.2's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening the TCP connection (not in RFC 5321; 30 seconds, as common MTAs use).
    pub connect: Duration,
    /// Waiting for the 220 greeting (§4.5.3.2.1: 5 minutes).
    pub greeting: Duration,
    /// EHLO, HELO, STARTTLS (with the TLS handshake) and RSET (5 minutes, as for MAIL).
    pub command: Duration,
    /// The reply to MAIL FROM (§4.5.3.2.2: 5 minutes).
    pub mail: Duration,
    /// The reply to each RCPT TO (§4.5.3.2.3: 5 minutes).
    pub rcpt: Duration,
    /// The 354 reply to DATA (§4.5.3.2.4: 2 minutes).
    pub data: Duration,
    /// Each block of message data to be taken by the server (§4.5.3.2.5: 3 minutes).
    pub data_block: Duration,
    /// The reply to the final dot (§4.5.3.2.6: 10 minutes).
    pub data_end: Duration,
    /// Fetching an MTA-STS policy over HTTPS, from the address lookup to the last byte
    /// (RFC 8461 §3.3 suggests 60 seconds).
    pub sts_fetch: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        let minutes = |count: u64| Duration::from_secs(count * 60);
        Timeouts {
            connect: Duration::from_secs(30),
            greeting: minutes(5),
            command: minutes(5),
            mail: minutes(5),
            rcpt: minutes(5),
            data: minutes(2),
            data_block: minutes(3),
            data_end: minutes(10),
            sts_fetch: minutes(1),
        }
    }
}

/// How the client delivers.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Our name in EHLO/HELO (RFC 5321 §4.1.1.1: the client's fully-qualified domain name).
    pub hostname: String,
    /// The port dialled on MX hosts: 25, except in tests. TLSA records are looked up at
    /// `_{remote_port}._tcp.{host}` (RFC 7672 §2.2.3).
    pub remote_port: u16,
    /// Where MX, address and TLSA records come from.
    pub resolver: Arc<dyn postwerk_dns::Resolver>,
    /// Time limits per step.
    pub timeouts: Timeouts,
    /// How long an idle session to a domain is kept for the next message; zero disables reuse.
    pub idle_reuse: Duration,
    /// How many MX hosts are tried per attempt (the rest wait for the next attempt).
    pub max_mx_hosts: usize,
    /// The HTTPS port MTA-STS policies are fetched from at `mta-sts.<domain>` (RFC 8461 §3.3:
    /// 443; tests aim it at a loopback server).
    pub sts_port: u16,
    /// Certificate authorities trusted for MTA-STS (policy hosts and MX hosts under an
    /// `enforce` policy) in addition to the platform's roots: a corporate CA, or a test CA.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl ClientConfig {
    /// A configuration with the defaults: port 25, RFC 5321 time limits, sessions kept 5
    /// seconds, 5 MX hosts per attempt, MTA-STS policies from port 443 checked against the
    /// platform's roots only.
    pub fn new(
        hostname: impl Into<String>,
        resolver: Arc<dyn postwerk_dns::Resolver>,
    ) -> ClientConfig {
        ClientConfig {
            hostname: hostname.into(),
            remote_port: 25,
            resolver,
            timeouts: Timeouts::default(),
            idle_reuse: Duration::from_secs(5),
            max_mx_hosts: 5,
            sts_port: 443,
            extra_roots: Vec::new(),
        }
    }
}

/// The SMTP client, as the queue's [`Transport`]: delivers each attempt to the MX hosts of its
/// domain, with opportunistic TLS, DANE or MTA-STS, and keeps sessions briefly for the next
/// message.
#[derive(Debug)]
pub struct SmtpTransport {
    config: ClientConfig,
    tls: TlsConfigs,
    pool: Pool,
    /// MTA-STS policies, cached per domain for every delivery (RFC 8461 §5.1).
    sts: Sts,
}

impl SmtpTransport {
    /// A transport with `config`.
    pub fn new(config: ClientConfig) -> SmtpTransport {
        SmtpTransport {
            tls: TlsConfigs::new(config.extra_roots.clone()),
            config,
            pool: Pool::default(),
            sts: Sts::default(),
        }
    }

    /// The MTA-STS policy of `domain`, applied to the hosts of its route. `Err` when the
    /// policy leaves no host to try (RFC 8461 §4.1).
    async fn apply_sts(&self, domain: &str, policies: &mut HostPolicies) -> Result<(), Outcome> {
        // RFC 8461 §2: where DANE applies it decides; when it does for every host the policy
        // could change nothing, so it is not even looked up.
        if policies
            .iter()
            .all(|(_, policy)| matches!(policy, Ok(TlsPolicy::Dane(_))))
        {
            return Ok(());
        }
        let fetcher = sts::Fetcher {
            resolver: self.config.resolver.as_ref(),
            tls: &self.tls,
            port: self.config.sts_port,
            timeout: self.config.timeouts.sts_fetch,
        };
        match self.sts.discover(fetcher, domain).await {
            Some(policy) => sts::apply(&policy, domain, policies),
            None => Ok(()),
        }
    }

    fn dialer<'a>(&'a self, attempt: &'a Attempt) -> Dialer<'a> {
        Dialer {
            hostname: &self.config.hostname,
            domain: &attempt.domain,
            timeouts: &self.config.timeouts,
            tls: &self.tls,
        }
    }

    /// Runs the attempt on `session`, then keeps or closes the session. `None` when a reused
    /// session turned out dead before anything was settled.
    async fn transact(
        &self,
        mut session: Session,
        attempt: &Attempt,
        content: &[u8],
        reused: bool,
    ) -> Option<Vec<Outcome>> {
        let report = transaction::run(
            &mut session,
            attempt,
            content,
            &self.config.timeouts,
            reused,
        )
        .await;
        if report.after == After::RetryFresh {
            tracing::debug!(
                domain = %attempt.domain,
                mx = %session.mx,
                "idle session found dead, opening a new one"
            );
            return None;
        }
        log_delivery(attempt, Some(&session), &report.outcomes);
        if report.after == After::Reusable && session.is_open() && !self.config.idle_reuse.is_zero()
        {
            // RFC 5321 §4.1.1.5: RSET leaves the session clean for the next transaction (a
            // MAIL may have been accepted with no recipient) and proves it alive.
            match session
                .command("RSET", self.config.timeouts.command, "the reply to RSET")
                .await
            {
                Ok(reply) if reply.is_positive() => {
                    self.pool
                        .put(&attempt.domain, session, self.config.idle_reuse);
                }
                _ => {}
            }
        } else if session.is_open() {
            tokio::spawn(session.quit());
        }
        Some(report.outcomes)
    }
}

/// The policy of each host of the route, looked up once per attempt.
type HostPolicies = Vec<(String, Result<TlsPolicy, Failure>)>;

#[async_trait]
impl Transport for SmtpTransport {
    async fn deliver(&self, attempt: &Attempt, content: &[u8]) -> Vec<Outcome> {
        let resolver = self.config.resolver.as_ref();
        let count = attempt.recipients.len();
        let route = match mx::route(resolver, &attempt.domain, self.config.max_mx_hosts).await {
            Ok(route) => route,
            Err(outcome) => {
                let outcomes = vec![outcome; count];
                log_delivery(attempt, None, &outcomes);
                return outcomes;
            }
        };
        let mut policies: HostPolicies = Vec::with_capacity(route.hosts.len());
        for host in &route.hosts {
            let policy = mx::policy(resolver, self.config.remote_port, host, route.secure).await;
            policies.push((host.clone(), policy));
        }
        if let Err(outcome) = self.apply_sts(&attempt.domain, &mut policies).await {
            let outcomes = vec![outcome; count];
            log_delivery(attempt, None, &outcomes);
            return outcomes;
        }

        // An idle session to one of the hosts, as secure as that host's policy now demands.
        while let Some(session) = self.pool.take(&attempt.domain, |session| {
            policies.iter().any(|(host, policy)| {
                *host == session.mx
                    && policy
                        .as_ref()
                        .is_ok_and(|policy| session.security.satisfies(policy.minimum()))
            })
        }) {
            if let Some(outcomes) = self.transact(session, attempt, content, true).await {
                return outcomes;
            }
        }

        let dialer = self.dialer(attempt);
        let mut failures: Vec<Failure> = Vec::new();
        for (host, policy) in &policies {
            let policy = match policy {
                Ok(policy) => policy,
                Err(failure) => {
                    failures.push(failure.clone());
                    continue;
                }
            };
            let addresses = match resolver.addresses(host).await {
                Ok(addresses) if !addresses.is_empty() => addresses,
                Ok(_) => {
                    failures.push(outcome::failure(
                        status::NO_ANSWER,
                        Some(host),
                        format!("{host}: no address"),
                    ));
                    continue;
                }
                Err(err) => {
                    failures.push(outcome::failure(
                        status::DNS_FAILURE,
                        Some(host),
                        format!("{host}: {err}"),
                    ));
                    continue;
                }
            };
            for ip in addresses {
                let address = SocketAddr::new(ip, self.config.remote_port);
                let session = match dialer.establish(host, address, policy).await {
                    Ok(session) => session,
                    Err(error) if error.retry_plaintext => {
                        tracing::info!(
                            domain = %attempt.domain,
                            mx = %host,
                            address = %address,
                            reason = %error.failure.reason,
                            "opportunistic TLS failed, retrying in plaintext"
                        );
                        match dialer.establish(host, address, &TlsPolicy::Plaintext).await {
                            Ok(session) => session,
                            Err(plain) => {
                                failures.push(error.failure);
                                failures.push(plain.failure);
                                continue;
                            }
                        }
                    }
                    Err(error) => {
                        failures.push(error.failure);
                        continue;
                    }
                };
                if let Some(outcomes) = self.transact(session, attempt, content, false).await {
                    return outcomes;
                }
            }
        }

        let outcomes = vec![Outcome::Temporary(summarize(&route.hosts, failures)); count];
        log_delivery(attempt, None, &outcomes);
        outcomes
    }
}

/// One failure for an attempt where no host could be used: the most telling status (a DANE,
/// MTA-STS or TLS failure, then DNS, then anything but "no answer"), and every host's story in
/// the reason, which starts with "MTA-STS:" when an MTA-STS refusal decided the status.
fn summarize(hosts: &[String], failures: Vec<Failure>) -> Failure {
    let rank = |failure: &Failure| -> u8 {
        match failure.status.as_str() {
            status::TLS_NOT_OFFERED | status::CRYPTO_FAILURE => 3,
            status::DNS_FAILURE => 2,
            status::NO_ANSWER => 0,
            _ => 1,
        }
    };
    // The last of the best rank: the most recent host's story among equals.
    let best = failures.iter().rev().max_by_key(|failure| rank(failure));
    let tag = match best {
        Some(failure) if failure.reason.starts_with("MTA-STS:") => "MTA-STS: ",
        _ => "",
    };
    let reason = if failures.is_empty() {
        format!("no MX host could be tried ({})", hosts.join(", "))
    } else {
        format!(
            "{tag}no MX host accepted the message: {}",
            failures
                .iter()
                .map(|failure| failure.reason.as_str())
                .collect::<Vec<_>>()
                .join("; ")
        )
    };
    Failure {
        status: best
            .map_or(status::NO_ANSWER, |failure| {
                if rank(failure) == 0 {
                    status::NO_ANSWER
                } else {
                    failure.status.as_str()
                }
            })
            .to_string(),
        remote_mta: best.and_then(|failure| failure.remote_mta.clone()),
        reply: best.and_then(|failure| failure.reply.clone()),
        reason,
    }
}

/// One log line per recipient: where it went, how securely, and what became of it. Never the
/// content.
fn log_delivery(attempt: &Attempt, session: Option<&Session>, outcomes: &[Outcome]) {
    let mx = session.map_or("", |session| session.mx.as_str());
    let address = session
        .map(|session| session.addr.to_string())
        .unwrap_or_default();
    let security = session
        .map(|session| session.security.to_string())
        .unwrap_or_default();
    let tls = session
        .and_then(|session| session.tls.as_deref())
        .unwrap_or("");
    for (recipient, outcome) in attempt.recipients.iter().zip(outcomes) {
        let (status, detail) = match outcome {
            Outcome::Delivered { reply, .. } => ("2.0.0", reply.as_str()),
            Outcome::Temporary(failure) | Outcome::Permanent(failure) => {
                (failure.status.as_str(), failure.reason.as_str())
            }
        };
        tracing::info!(
            domain = %attempt.domain,
            mx,
            address = %address,
            security = %security,
            tls,
            recipient = %recipient.address,
            result = outcome::label(outcome),
            status,
            detail,
            "outbound delivery"
        );
    }
}
