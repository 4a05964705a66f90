//! [`HickoryResolver`] against a real DNS server on loopback (`postwerk_testkit::dns`).

use std::net::IpAddr;
use std::time::Duration;

use postwerk_dns::{
    DnsConfig, DnssecMode, HickoryResolver, MxAnswer, MxHost, Resolver, SrvRecord, Tlsa, TlsaAnswer,
};
use postwerk_testkit::dns::{DnsServer, Zone};

const HASH: [u8; 32] = [0xab; 32];

fn resolver(server: &DnsServer, dnssec: DnssecMode) -> HickoryResolver {
    HickoryResolver::new(&DnsConfig {
        servers: vec![server.addr()],
        dnssec,
        ..DnsConfig::default()
    })
    .expect("resolver")
}

fn host(preference: u16, exchange: &str) -> MxHost {
    MxHost {
        preference,
        exchange: exchange.to_string(),
    }
}

fn tlsa_record() -> Tlsa {
    Tlsa {
        usage: 3,
        selector: 1,
        matching: 1,
        data: HASH.to_vec(),
    }
}

/// A zone with a signed domain (example.org) and an unsigned one (example.net).
fn zone() -> anyhow::Result<Zone> {
    let mut zone = Zone::new();
    zone.mx("example.org", 20, "mx2.example.org")
        .mx("example.org", 10, "MX1.example.org.")
        .mx("example.org", 30, "mx3.example.org")
        .a("mx1.example.org", "192.0.2.1".parse()?)
        .aaaa("mx1.example.org", "2001:db8::1".parse()?)
        .tlsa(25, "mx1.example.org", 3, 1, 1, &HASH)
        .secure("example.org");
    zone.mx("example.net", 10, "mx.example.net")
        .a("mx.example.net", "192.0.2.2".parse()?)
        .tlsa(25, "mx.example.net", 3, 1, 1, &HASH);
    zone.a("implicit.example", "192.0.2.3".parse()?);
    zone.null_mx("nomail.example");
    zone.servfail("broken.example");
    Ok(zone)
}

#[tokio::test]
async fn mx_hosts_are_sorted_by_preference() -> anyhow::Result<()> {
    let server = DnsServer::start(zone()?)?;
    let dns = resolver(&server, DnssecMode::TrustAd);
    let lookup = dns.mx("Example.ORG.").await?;
    assert_eq!(
        lookup.answer,
        MxAnswer::Hosts(vec![
            host(10, "mx1.example.org"),
            host(20, "mx2.example.org"),
            host(30, "mx3.example.org"),
        ])
    );
    Ok(())
}

#[tokio::test]
async fn plain_mx_lookup_sorts_too() -> anyhow::Result<()> {
    let server = DnsServer::start(zone()?)?;
    let dns = resolver(&server, DnssecMode::Off);
    let lookup = dns.mx("example.org").await?;
    assert_eq!(
        lookup.answer,
        MxAnswer::Hosts(vec![
            host(10, "mx1.example.org"),
            host(20, "mx2.example.org"),
            host(30, "mx3.example.org"),
        ])
    );
    Ok(())
}

#[tokio::test]
async fn implicit_null_and_no_domain() -> anyhow::Result<()> {
    let server = DnsServer::start(zone()?)?;
    for mode in [DnssecMode::TrustAd, DnssecMode::Off] {
        let dns = resolver(&server, mode);
        assert_eq!(
            dns.mx("implicit.example").await?.answer,
            MxAnswer::Implicit,
            "{mode:?}"
        );
        assert_eq!(
            dns.mx("nomail.example").await?.answer,
            MxAnswer::NullMx,
            "{mode:?}"
        );
        assert_eq!(
            dns.mx("nowhere.example").await?.answer,
            MxAnswer::NoDomain,
            "{mode:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn mx_through_a_cname() -> anyhow::Result<()> {
    let mut zone = zone()?;
    zone.cname("alias.example", "example.net");
    let server = DnsServer::start(zone)?;
    for mode in [DnssecMode::TrustAd, DnssecMode::Off] {
        let dns = resolver(&server, mode);
        assert_eq!(
            dns.mx("alias.example").await?.answer,
            MxAnswer::Hosts(vec![host(10, "mx.example.net")]),
            "{mode:?}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn addresses_ipv6_first() -> anyhow::Result<()> {
    let server = DnsServer::start(zone()?)?;
    let dns = resolver(&server, DnssecMode::TrustAd);
    let v6: IpAddr = "2001:db8::1".parse()?;
    let v4: IpAddr = "192.0.2.1".parse()?;
    assert_eq!(dns.addresses("mx1.example.org").await?, vec![v6, v4]);
    // Only IPv4.
    assert_eq!(
        dns.addresses("mx.example.net.").await?,
        vec!["192.0.2.2".parse::<IpAddr>()?]
    );
    // NODATA and NXDOMAIN: no addresses, not an error.
    assert!(dns.addresses("example.org").await?.is_empty());
    assert!(dns.addresses("nowhere.example").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn tlsa_secure_only_in_secure_zones() -> anyhow::Result<()> {
    let server = DnsServer::start(zone()?)?;
    let dns = resolver(&server, DnssecMode::TrustAd);
    assert_eq!(
        dns.tlsa(25, "mx1.example.org").await?,
        TlsaAnswer::Secure(vec![tlsa_record()])
    );
    // Securely none: another port, and a host without records in the signed zone.
    assert_eq!(
        dns.tlsa(465, "mx1.example.org").await?,
        TlsaAnswer::Secure(Vec::new())
    );
    assert_eq!(
        dns.tlsa(25, "mx2.example.org").await?,
        TlsaAnswer::Secure(Vec::new())
    );
    // Records in an unsigned zone are not usable for DANE.
    assert_eq!(dns.tlsa(25, "mx.example.net").await?, TlsaAnswer::Insecure);
    Ok(())
}

#[tokio::test]
async fn trust_ad_queries_carry_ad_and_do() -> anyhow::Result<()> {
    let server = DnsServer::start(zone()?)?;
    let dns = resolver(&server, DnssecMode::TrustAd);
    let secure = dns.mx("example.org").await?;
    assert!(secure.secure);
    let insecure = dns.mx("example.net").await?;
    assert!(!insecure.secure);
    // A secure denial is secure too.
    let nodata = dns.mx("mx1.example.org").await?;
    assert_eq!(nodata.answer, MxAnswer::Implicit);
    assert!(nodata.secure);

    let queries = server.queries();
    let mx = queries
        .iter()
        .find(|query| query.name == "example.org" && query.record_type == "MX")
        .expect("MX query");
    assert!(mx.authentic_data, "AD bit in the query (RFC 6840 §5.7)");
    assert!(mx.dnssec_ok, "DO bit in the query");
    Ok(())
}

#[tokio::test]
async fn off_mode_is_always_insecure() -> anyhow::Result<()> {
    let server = DnsServer::start(zone()?)?;
    let dns = resolver(&server, DnssecMode::Off);
    let lookup = dns.mx("example.org").await?;
    assert!(!lookup.secure);
    assert!(matches!(lookup.answer, MxAnswer::Hosts(_)));
    assert_eq!(dns.tlsa(25, "mx1.example.org").await?, TlsaAnswer::Insecure);
    assert!(
        !server
            .queries()
            .iter()
            .any(|query| query.record_type == "TLSA")
    );
    Ok(())
}

#[tokio::test]
async fn servfail_is_a_dns_error() -> anyhow::Result<()> {
    let server = DnsServer::start(zone()?)?;
    for mode in [DnssecMode::TrustAd, DnssecMode::Off] {
        let dns = resolver(&server, mode);
        let error = dns.mx("broken.example").await.unwrap_err();
        assert_eq!(error.name, "broken.example");
        assert!(
            dns.addresses("mx.broken.example").await.is_err(),
            "{mode:?}"
        );
        assert!(dns.txt("broken.example").await.is_err(), "{mode:?}");
    }
    let dns = resolver(&server, DnssecMode::TrustAd);
    let error = dns.tlsa(25, "mx.broken.example").await.unwrap_err();
    assert_eq!(error.name, "_25._tcp.mx.broken.example");
    Ok(())
}

#[tokio::test]
async fn txt_strings_are_joined() -> anyhow::Result<()> {
    let mut zone = zone()?;
    let long = "v=DKIM1; k=rsa; p=".to_string() + &"A".repeat(400);
    zone.txt("example.org", "v=spf1 -all")
        .txt("sel._domainkey.example.org", &long);
    let server = DnsServer::start(zone)?;
    let dns = resolver(&server, DnssecMode::TrustAd);
    assert_eq!(
        dns.txt("example.org").await?,
        vec!["v=spf1 -all".to_string()]
    );
    assert_eq!(dns.txt("sel._domainkey.example.org").await?, vec![long]);
    assert!(dns.txt("nowhere.example").await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn srv_records_sorted_with_the_root_target_empty() -> anyhow::Result<()> {
    let mut zone = zone()?;
    zone.srv("_imaps._tcp.example.org", 10, 5, 993, "backup.example.org")
        .srv("_imaps._tcp.example.org", 0, 1, 993, "MX1.example.org.")
        .srv("_imap._tcp.example.org", 0, 0, 0, ".");
    let server = DnsServer::start(zone)?;
    let dns = resolver(&server, DnssecMode::TrustAd);
    let srv = |priority, weight, port, target: &str| SrvRecord {
        priority,
        weight,
        port,
        target: target.to_string(),
    };
    assert_eq!(
        dns.srv("_IMAPS._tcp.example.org.").await?,
        vec![
            srv(0, 1, 993, "mx1.example.org"),
            srv(10, 5, 993, "backup.example.org"),
        ]
    );
    assert_eq!(
        dns.srv("_imap._tcp.example.org").await?,
        vec![srv(0, 0, 0, "")]
    );
    // NODATA and NXDOMAIN: no records, not an error.
    assert!(dns.srv("example.org").await?.is_empty());
    assert!(dns.srv("_pop3s._tcp.nowhere.example").await?.is_empty());
    assert!(dns.srv("_imaps._tcp.broken.example").await.is_err());
    Ok(())
}

#[tokio::test]
async fn cname_is_the_target_of_the_name_itself() -> anyhow::Result<()> {
    let mut zone = zone()?;
    zone.cname("autoconfig.example.org", "Mail.Example.net.")
        .cname("mail.example.net", "mx.example.net");
    let server = DnsServer::start(zone)?;
    let dns = resolver(&server, DnssecMode::TrustAd);
    assert_eq!(
        dns.cname("AutoConfig.example.org").await?,
        Some("mail.example.net".to_string())
    );
    // A name with other records but no CNAME, and a name that does not exist.
    assert_eq!(dns.cname("example.org").await?, None);
    assert_eq!(dns.cname("autodiscover.example.org").await?, None);
    let error = dns.cname("autoconfig.broken.example").await.unwrap_err();
    assert_eq!(error.name, "autoconfig.broken.example");
    Ok(())
}

#[tokio::test]
async fn large_answers_fall_back_to_tcp() -> anyhow::Result<()> {
    let mut zone = zone()?;
    for i in 0..8u8 {
        zone.txt("big.example", &format!("{i}{}", "t".repeat(300)));
    }
    let mut many = Vec::new();
    for i in 0..24u8 {
        let data = [i; 64];
        zone.tlsa(25, "mx1.example.org", 3, 1, 2, &data);
        many.push(data);
    }
    let server = DnsServer::start(zone)?;
    let dns = resolver(&server, DnssecMode::TrustAd);
    assert_eq!(dns.txt("big.example").await?.len(), 8);
    let TlsaAnswer::Secure(records) = dns.tlsa(25, "mx1.example.org").await? else {
        panic!("secure TLSA expected");
    };
    assert_eq!(records.len(), 25);
    let queries = server.queries();
    assert!(
        queries
            .iter()
            .any(|query| query.tcp && query.record_type == "TXT")
    );
    assert!(
        queries
            .iter()
            .any(|query| query.tcp && query.record_type == "TLSA")
    );
    Ok(())
}

#[tokio::test]
async fn zone_changes_are_seen_by_the_next_lookup() -> anyhow::Result<()> {
    let server = DnsServer::start(zone()?)?;
    let dns = resolver(&server, DnssecMode::TrustAd);
    assert!(dns.mx("example.org").await?.secure);
    assert!(dns.addresses("mx2.example.org").await?.is_empty());

    server.zone().insecure("example.org");
    server.zone().a("mx2.example.org", "192.0.2.9".parse()?);
    assert!(!dns.mx("example.org").await?.secure);
    assert_eq!(
        dns.addresses("mx2.example.org").await?,
        vec!["192.0.2.9".parse::<IpAddr>()?]
    );

    server.zone().servfail("example.org");
    assert!(dns.mx("example.org").await.is_err());
    server.zone().heal("example.org").remove("example.org");
    assert_eq!(dns.mx("example.org").await?.answer, MxAnswer::Implicit);
    Ok(())
}

#[tokio::test]
async fn validate_mode_still_delivers_without_signatures() -> anyhow::Result<()> {
    // The test server signs nothing, so in-process validation cannot succeed: the MX question
    // falls back to the plain answer (insecure) instead of failing delivery.
    let server = DnsServer::start(zone()?)?;
    let dns = HickoryResolver::new(&DnsConfig {
        servers: vec![server.addr()],
        dnssec: DnssecMode::Validate,
        timeout: Duration::from_secs(5),
    })?;
    let lookup = dns.mx("example.org").await?;
    assert!(!lookup.secure);
    assert!(matches!(lookup.answer, MxAnswer::Hosts(hosts) if hosts.len() == 3));
    assert!(!dns.addresses("mx1.example.org").await?.is_empty());
    // TLSA is a DANE question: the unsigned answer under the root trust anchor is bogus, and
    // bogus is a lookup error (RFC 7672 §2.1.1), never "no TLSA" and never "secure".
    let error = dns.tlsa(25, "mx1.example.org").await.unwrap_err();
    assert_eq!(error.name, "_25._tcp.mx1.example.org");
    Ok(())
}
