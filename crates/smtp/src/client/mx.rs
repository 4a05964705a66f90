//! The route to a domain (RFC 5321 §5.1): its MX hosts by preference, and per host the TLS
//! policy its DNS demands (RFC 7672 §2.2).

use postwerk_dns::{MxAnswer, Resolver, TlsaAnswer};
use postwerk_queue::{Failure, Outcome};

use super::dane;
use super::outcome::{self, status};
use super::tls::TlsPolicy;

/// Where a domain's mail goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    /// The hosts to try, in order (at most `max_mx_hosts`).
    pub hosts: Vec<String>,
    /// Whether the MX answer was DNSSEC-authenticated; this client applies DANE to the hosts
    /// only then (see [`policy`]).
    pub secure: bool,
}

/// Looks up the route to `domain`. An answer that settles every recipient at once (null MX,
/// no such domain, DNS failure) is the `Err` outcome.
pub(crate) async fn route(
    resolver: &dyn Resolver,
    domain: &str,
    max_hosts: usize,
) -> Result<Route, Outcome> {
    let lookup = resolver.mx(domain).await.map_err(|err| {
        outcome::temporary(
            status::DNS_FAILURE,
            None,
            format!("MX lookup failed, will retry: {err}"),
        )
    })?;
    let mut hosts: Vec<String> = match lookup.answer {
        // The resolver returns them lowest preference first, equal ones shuffled (§5.1).
        MxAnswer::Hosts(hosts) => hosts.into_iter().map(|host| host.exchange).collect(),
        // RFC 5321 §5.1: no MX records, the domain itself is the implicit MX, with the same
        // DNSSEC status (RFC 7672 §2.2.1).
        MxAnswer::Implicit => vec![domain.to_ascii_lowercase()],
        MxAnswer::NullMx => {
            return Err(outcome::permanent(
                status::NULL_MX,
                None,
                "the domain accepts no mail (null MX, RFC 7505)",
            ));
        }
        MxAnswer::NoDomain => {
            return Err(outcome::permanent(
                status::NO_DOMAIN,
                None,
                format!("the domain {domain} does not exist"),
            ));
        }
    };
    // The same host twice (two preferences) is tried once.
    let mut seen = std::collections::HashSet::new();
    hosts.retain(|host| seen.insert(host.clone()));
    hosts.truncate(max_hosts.max(1));
    Ok(Route {
        hosts,
        secure: lookup.secure,
    })
}

/// The TLS policy for `host`, reached on `port` (RFC 7672 §2.2). A failed TLSA lookup makes
/// the host unusable for now (RFC 7672 §2.1.1: a validation failure must not become a
/// downgrade), which is the `Err`.
pub(crate) async fn policy(
    resolver: &dyn Resolver,
    port: u16,
    host: &str,
    mx_secure: bool,
) -> Result<TlsPolicy, Failure> {
    if !mx_secure {
        // RFC 7672 §2.2.1 makes DANE for the hosts of an insecure MX RRset a MAY. We do not:
        // whoever could forge the MX answer also chose the hosts (and so their TLSA records),
        // so it would add lookups and failure modes without adding authentication.
        return Ok(TlsPolicy::Opportunistic);
    }
    match resolver.tlsa(port, host).await {
        Err(err) => Err(outcome::failure(
            status::DNS_FAILURE,
            Some(host),
            format!("DANE: TLSA lookup of _{port}._tcp.{host} failed, host skipped: {err}"),
        )),
        Ok(TlsaAnswer::Insecure) => Ok(TlsPolicy::Opportunistic),
        Ok(TlsaAnswer::Secure(records)) if records.is_empty() => Ok(TlsPolicy::Opportunistic),
        Ok(TlsaAnswer::Secure(records)) => {
            let records = dane::usable(&records);
            if records.is_empty() {
                Ok(TlsPolicy::Mandatory)
            } else {
                Ok(TlsPolicy::Dane(records))
            }
        }
    }
}
