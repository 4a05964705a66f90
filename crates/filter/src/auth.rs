//! RCV-2 SPF (RFC 7208), DKIM (RFC 6376), DMARC (RFC 7489) and ARC (RFC 8617), verified with
//! `mail-auth` and recorded in one `Authentication-Results` header (RFC 8601).
//!
//! What refuses a message:
//! - SPF `fail` of the MAIL FROM identity (the HELO identity for the null sender, RFC 7208
//!   §2.4) under [`SpfPolicy::Refuse`]: `550 5.7.23` (RFC 7372 §3.2);
//! - DMARC `fail` when the RFC5322.From domain publishes `p=reject`: `550 5.7.1`.
//!
//! DMARC `fail` under `p=quarantine` files the message as junk. Everything else — including every
//! `temperror`, so a DNS outage never refuses mail — is accepted with the results recorded. ARC
//! is verified and recorded only; it overrides nothing (no trusted-sealer list yet).
//!
//! Nothing of the message itself is logged: only results, domains and the client address.

use std::fmt;

use mail_auth::dmarc::Policy;
use mail_auth::dmarc::verify::DmarcParameters;
use mail_auth::hickory_resolver::config::{
    NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, AuthenticationResults, DkimOutput, DkimResult, DmarcResult,
    MessageAuthenticator, SpfResult,
};
use postwerk_dns::DnsConfig;

use crate::spam::{AuthSignals, DkimSignal, DmarcSignal, SpfSignal};
use crate::{Client, MessageVerdict, Reply, SpfPolicy};

/// Verifies SPF, DKIM, DMARC and ARC.
///
/// Built from the `[dns]` configuration with [`Verifier::new`]. [`Verifier::default`] is a
/// verifier that checks nothing and adds no header (for `[auth] enabled = false` and tests of
/// other checks).
#[derive(Default)]
pub struct Verifier {
    authenticator: Option<MessageAuthenticator>,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("enabled", &self.authenticator.is_some())
            .finish()
    }
}

impl Verifier {
    /// A verifier asking `config.servers` (over UDP with TCP fallback), or the system's
    /// resolvers (`/etc/resolv.conf`) when there are none, `config.timeout` per query.
    /// `/etc/hosts` is never consulted. DNSSEC plays no part in these checks.
    ///
    /// Fails when the system configuration cannot be read or the resolver cannot be built.
    pub fn new(config: &DnsConfig) -> Result<Verifier, String> {
        let (resolver_config, mut options) = if config.servers.is_empty() {
            mail_auth::hickory_resolver::system_conf::read_system_conf()
                .map_err(|error| format!("cannot read the system's DNS configuration: {error}"))?
        } else {
            let servers = config.servers.iter().map(|addr| {
                let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                for connection in &mut server.connections {
                    connection.port = addr.port();
                }
                server
            });
            (
                ResolverConfig::from_name_servers(servers.collect()),
                ResolverOpts::default(),
            )
        };
        options.timeout = config.timeout;
        options.use_hosts_file = ResolveHosts::Never;
        options.validate = false;
        let authenticator = MessageAuthenticator::new(resolver_config, options)
            .map_err(|error| format!("cannot build the SPF/DKIM/DMARC resolver: {error}"))?;
        Ok(Verifier {
            authenticator: Some(authenticator),
        })
    }

    /// The verdict and the `Authentication-Results` header for a message from `client` with
    /// envelope sender `sender` (empty or `<>` for the null sender). `hostname` is the
    /// authserv-id (RFC 8601 §2.5).
    pub async fn check(
        &self,
        client: &Client,
        sender: &str,
        raw: &[u8],
        hostname: &str,
        policy: SpfPolicy,
    ) -> MessageVerdict {
        self.check_with_signals(client, sender, raw, hostname, policy)
            .await
            .0
    }

    /// [`Verifier::check`], and the results as the spam score needs them (RCV-4); `None` when
    /// this verifier checks nothing. A refused message has results too, but nobody scores it.
    pub async fn check_with_signals(
        &self,
        client: &Client,
        sender: &str,
        raw: &[u8],
        hostname: &str,
        policy: SpfPolicy,
    ) -> (MessageVerdict, Option<AuthSignals>) {
        let Some(authenticator) = &self.authenticator else {
            let verdict = MessageVerdict::Accept {
                headers: Vec::new(),
                junk: None,
            };
            return (verdict, None);
        };
        let ip = client.ip;
        let helo = client.helo.as_str();
        let sender = ascii_domain(sender.trim().trim_start_matches('<').trim_end_matches('>'));
        let sender = sender.as_str();

        // SPF: MAIL FROM, or HELO for the null sender (RFC 7208 §2.4).
        let spf = if sender.is_empty() {
            authenticator
                .verify_spf(SpfParameters::verify_ehlo(ip, helo, hostname))
                .await
        } else {
            authenticator
                .verify_spf(SpfParameters::verify_mail_from(ip, helo, hostname, sender))
                .await
        };
        let mail_from_domain = match sender.rsplit_once('@') {
            Some((_, domain)) => domain,
            None => helo,
        };
        tracing::debug!(%ip, domain = spf.domain(), result = ?spf.result(), "SPF");
        let mut signals = AuthSignals {
            spf: spf_signal(spf.result()),
            dkim: DkimSignal::None,
            dmarc: DmarcSignal::None,
        };
        if spf.result() == SpfResult::Fail && policy == SpfPolicy::Refuse {
            tracing::info!(%ip, domain = spf.domain(), "refused: SPF fail");
            let verdict = MessageVerdict::Refuse(Reply {
                code: 550,
                status: "5.7.23",
                text: format!(
                    "SPF validation failed: the sending domain does not authorise [{ip}] to \
                     send its mail; ask its administrator to fix the domain's SPF record"
                ),
            });
            return (verdict, Some(signals));
        }

        let mut header = format!("Authentication-Results: {hostname}");
        let spf_part = if sender.is_empty() {
            AuthenticationResults::new(hostname).with_spf_ehlo_result(&spf, ip, helo)
        } else {
            AuthenticationResults::new(hostname).with_spf_mailfrom_result(&spf, ip, sender, helo)
        };
        header.push_str(&results_of(&spf_part, hostname));

        let Some(message) = AuthenticatedMessage::parse(raw) else {
            // Not even a header section: nothing to verify beyond SPF.
            tracing::info!(%ip, "message headers unparseable; DKIM/DMARC/ARC not evaluated");
            header.push_str(";\r\n\tdkim=none;\r\n\tdmarc=none;\r\n\tarc=none\r\n");
            let verdict = MessageVerdict::Accept {
                headers: header.into_bytes(),
                junk: None,
            };
            return (verdict, Some(signals));
        };

        // DKIM.
        let dkim = authenticator.verify_dkim(&message).await;
        signals.dkim = dkim_signal(&dkim);
        if dkim.is_empty() {
            header.push_str(";\r\n\tdkim=none");
        } else {
            let part =
                AuthenticationResults::new(hostname).with_dkim_results(&dkim, message.from());
            // mail-auth says `neutral` for a body hash mismatch; it is a failed verification
            // (RFC 6376 §6.1.3 "PERMFAIL (body hash did not verify)"), so `fail` per RFC 8601
            // §2.7.1. DMARC is unaffected: only `pass` and `temperror` count there.
            let part = results_of(&part, hostname).replace(
                "dkim=neutral (body hash did not verify)",
                "dkim=fail (body hash did not verify)",
            );
            header.push_str(&part);
        }

        // ARC: recorded.
        let arc = authenticator.verify_arc(&message).await;
        let arc_part = AuthenticationResults::new(hostname).with_arc_result(&arc, ip);

        // DMARC on the RFC5322.From domain, from the SPF and DKIM results.
        let dmarc = authenticator
            .verify_dmarc(DmarcParameters::new(
                &message,
                &dkim,
                mail_from_domain,
                &spf,
            ))
            .await;
        if dmarc.domain().is_empty() {
            header.push_str(";\r\n\tdmarc=none");
        } else {
            let part = AuthenticationResults::new(hostname).with_dmarc_result(&dmarc);
            header.push_str(&results_of(&part, hostname));
        }
        header.push_str(&results_of(&arc_part, hostname));
        header.push_str("\r\n");

        let dmarc_result = dmarc.result();
        signals.dmarc = dmarc_signal(&dmarc_result);
        tracing::debug!(
            %ip,
            domain = dmarc.domain(),
            result = ?dmarc_result,
            policy = ?dmarc.policy(),
            "DMARC"
        );
        let mut junk = None;
        if matches!(dmarc_result, DmarcResult::Fail(_)) {
            let domain = dmarc.domain();
            match dmarc.policy() {
                Policy::Reject => {
                    tracing::info!(%ip, domain, "refused: DMARC fail, p=reject");
                    let verdict = MessageVerdict::Refuse(Reply {
                        code: 550,
                        status: "5.7.1",
                        text: format!(
                            "Message rejected: the DMARC policy of {domain} rejects mail that \
                             neither SPF nor DKIM authenticates for that domain; ask its \
                             administrator to fix the domain's SPF or DKIM setup"
                        ),
                    });
                    return (verdict, Some(signals));
                }
                Policy::Quarantine => {
                    tracing::info!(%ip, domain, "junk: DMARC fail, p=quarantine");
                    junk = Some(format!("DMARC quarantine policy of {domain}"));
                }
                Policy::None | Policy::Unspecified => {}
            }
        }
        let verdict = MessageVerdict::Accept {
            headers: header.into_bytes(),
            junk,
        };
        (verdict, Some(signals))
    }
}

/// The SPF result for the score.
fn spf_signal(result: SpfResult) -> SpfSignal {
    match result {
        SpfResult::Pass => SpfSignal::Pass,
        SpfResult::Fail => SpfSignal::Fail,
        SpfResult::SoftFail => SpfSignal::SoftFail,
        SpfResult::Neutral => SpfSignal::Neutral,
        SpfResult::None => SpfSignal::None,
        SpfResult::PermError => SpfSignal::PermError,
        SpfResult::TempError => SpfSignal::TempError,
    }
}

/// All DKIM signatures as one result for the score: one that verifies is enough (RFC 6376
/// §6.1 lets a verifier accept any valid signature); a temporary error on one that might
/// have verified is not held against the sender.
fn dkim_signal(outputs: &[DkimOutput<'_>]) -> DkimSignal {
    if outputs.is_empty() {
        return DkimSignal::None;
    }
    let results = || outputs.iter().map(|output| output.result());
    if results().any(|result| *result == DkimResult::Pass) {
        DkimSignal::Pass
    } else if results().any(|result| matches!(result, DkimResult::TempError(_))) {
        DkimSignal::TempError
    } else if results().all(|result| *result == DkimResult::None) {
        DkimSignal::None
    } else {
        DkimSignal::Invalid
    }
}

/// The DMARC result for the score.
fn dmarc_signal(result: &DmarcResult) -> DmarcSignal {
    match result {
        DmarcResult::Pass => DmarcSignal::Pass,
        DmarcResult::Fail(_) => DmarcSignal::Fail,
        DmarcResult::None => DmarcSignal::None,
        DmarcResult::TempError(_) | DmarcResult::PermError(_) => DmarcSignal::Error,
    }
}

/// The `;\r\n\tmethod=result …` part of a builder's header, without its authserv-id.
fn results_of(results: &AuthenticationResults<'_>, hostname: &str) -> String {
    let text = results.to_string();
    match text.strip_prefix(hostname) {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

/// RFC 8616 §4: SPF and DMARC look the sender's domain up in A-label form, and an SMTPUTF8
/// reverse-path (RFC 6531) may carry U-labels (`用户@例子.中国`). The local part is kept:
/// only SPF macros read it. A domain that does not parse is left for SPF to judge.
fn ascii_domain(sender: &str) -> String {
    if sender.is_ascii() {
        return sender.to_owned();
    }
    match sender.rsplit_once('@') {
        Some((local, domain)) => match postwerk_model::Domain::parse(domain) {
            Ok(domain) => format!("{local}@{domain}"),
            Err(_) => sender.to_owned(),
        },
        None => sender.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::ascii_domain;

    #[test]
    fn rfc_8616_utf8_senders_are_checked_under_their_a_label_domain() {
        let cases = [
            ("用户@例子.中国", "用户@xn--fsqu00a.xn--fiqs8s"),
            ("zoë@Bücher.example", "zoë@xn--bcher-kva.example"),
            ("anna@Example.test", "anna@Example.test"),
            ("用户@exa_mple.org", "用户@exa_mple.org"),
        ];
        for (sender, expected) in cases {
            assert_eq!(ascii_domain(sender), expected, "sender {sender:?}");
        }
    }
}
