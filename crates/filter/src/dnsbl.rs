//! RCV-9 DNS block lists (RFC 5782): the connecting address is looked up on each configured
//! zone, all zones at once; the first zone (in configuration order) that lists it names the
//! refusal.
//!
//! A list answers a listed address with an A record in `127.0.0.0/8` (RFC 5782 §2.1). Answers
//! outside it are a misconfigured list and ignored. `127.255.255.x` is what Spamhaus answers
//! when it refuses to serve the query (public or unregistered resolver, over quota): the
//! address is then *not* listed, and a warning says the list cannot be used as configured.
//! Lookup failures fail open: a broken list must not stop mail.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use postwerk_dns::Resolver;

use crate::Reply;

/// The refusal for a client listed on one of `zones`, if it is.
pub async fn check(resolver: &dyn Resolver, ip: IpAddr, zones: &[String]) -> Option<Reply> {
    let ip = canonical(ip);
    let reversed = reversed(ip);
    let lookups = zones.iter().map(|zone| {
        let name = format!("{reversed}.{}", zone.trim_end_matches('.'));
        async move { (zone, listed(resolver, &name, zone).await) }
    });
    let answers = futures::future::join_all(lookups).await;
    let zone = answers
        .into_iter()
        .find_map(|(zone, listed)| listed.then_some(zone))?;
    tracing::info!(%ip, zone = %zone, "client listed on a DNS block list");
    Some(Reply {
        code: 550,
        status: "5.7.1",
        text: format!(
            "Service unavailable; client host [{ip}] blocked using {zone}; see the list's site \
             to request removal"
        ),
    })
}

/// Whether the answer for `name` on `zone` says "listed".
async fn listed(resolver: &dyn Resolver, name: &str, zone: &str) -> bool {
    let answers = match resolver.addresses(name).await {
        Ok(answers) => answers,
        Err(error) => {
            tracing::warn!(zone, %error, "DNS block list lookup failed; treating as not listed");
            return false;
        }
    };
    let mut listed = false;
    for answer in answers {
        match answer {
            IpAddr::V4(v4) if is_refusal(v4) => {
                tracing::warn!(
                    zone,
                    answer = %v4,
                    "DNS block list refused the query (e.g. Spamhaus via a public resolver); \
                     treating as not listed: use a resolver the list accepts"
                );
            }
            IpAddr::V4(v4) if v4.is_loopback() => listed = true,
            other => {
                tracing::warn!(
                    zone,
                    answer = %other,
                    "DNS block list answered outside 127.0.0.0/8; ignored as misconfiguration"
                );
            }
        }
    }
    listed
}

/// `127.255.255.0/24`: Spamhaus's error codes (query refused, over quota), not listings.
fn is_refusal(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    (a, b, c) == (127, 255, 255)
}

/// IPv4-mapped IPv6 addresses are looked up as the IPv4 address they carry.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The address as a DNSBL label sequence (RFC 5782 §2.1, §2.4): IPv4 octets reversed,
/// IPv6 nibbles reversed.
fn reversed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}")
        }
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(63);
            for byte in v6.octets().iter().rev() {
                if !out.is_empty() {
                    out.push('.');
                }
                let _ = write!(out, "{:x}.{:x}", byte & 0x0f, byte >> 4);
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use postwerk_dns::FakeResolver;

    use super::*;

    fn zones(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn reverses_ipv4_and_ipv6() {
        assert_eq!(reversed("192.0.2.99".parse().unwrap()), "99.2.0.192");
        // RFC 5782 §2.4's example.
        assert_eq!(
            reversed("2001:db8:1:2:3:4:567:89ab".parse().unwrap()),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"
        );
        assert_eq!(
            reversed(canonical("::ffff:192.0.2.1".parse().unwrap())),
            "1.2.0.192"
        );
    }

    #[tokio::test]
    async fn listed_address_is_refused_naming_the_first_listing_zone() {
        let dns = Arc::new(FakeResolver::new());
        dns.set_addresses("2.0.0.127.b.example", &["127.0.0.4".parse().unwrap()]);
        dns.set_addresses("2.0.0.127.c.example", &["127.0.0.2".parse().unwrap()]);
        let ip: IpAddr = "127.0.0.2".parse().unwrap();
        let reply = check(
            dns.as_ref(),
            ip,
            &zones(&["a.example", "b.example", "c.example"]),
        )
        .await
        .expect("listed");
        assert_eq!(reply.code, 550);
        assert_eq!(reply.status, "5.7.1");
        assert_eq!(
            reply.text,
            "Service unavailable; client host [127.0.0.2] blocked using b.example; see the \
             list's site to request removal"
        );
    }

    #[tokio::test]
    async fn ipv6_is_looked_up_by_nibbles() {
        let dns = FakeResolver::new();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let name = format!("{}.bl.example", reversed(ip));
        dns.set_addresses(&name, &["127.0.0.2".parse().unwrap()]);
        let reply = check(&dns, ip, &zones(&["bl.example"]))
            .await
            .expect("listed");
        assert!(reply.text.contains("[2001:db8::1]"), "{}", reply.text);
        assert!(reply.text.contains("bl.example"), "{}", reply.text);
    }

    #[tokio::test]
    async fn unlisted_refused_query_misconfigured_and_failing_lists_do_not_refuse() {
        let dns = FakeResolver::new();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        // Spamhaus "query via public resolver refused".
        dns.set_addresses(
            "1.2.0.192.refused.example",
            &["127.255.255.254".parse().unwrap()],
        );
        // Wildcard answers outside 127/8 (a lapsed domain, a hijacking resolver).
        dns.set_addresses(
            "1.2.0.192.misconfigured.example",
            &["203.0.113.7".parse().unwrap()],
        );
        dns.set_failing("1.2.0.192.failing.example");
        let all = zones(&[
            "none.example",
            "refused.example",
            "misconfigured.example",
            "failing.example",
        ]);
        assert_eq!(check(&dns, ip, &all).await, None);
        assert_eq!(check(&dns, ip, &[]).await, None);
    }
}
