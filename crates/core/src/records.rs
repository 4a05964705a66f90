//! The DNS records a mail service needs (SVC-1), as text an administrator can paste into a zone,
//! and [`check_records`], which asks DNS whether each is in place.

use postwerk_model::Domain;

use crate::dkim::DkimPublicKey;

/// RFC 1035 §3.3: a TXT record is a sequence of character-strings of at most 255 octets each.
const CHARACTER_STRING_MAX: usize = 255;

/// One resource record to publish.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DnsRecord {
    /// Owner name, fully qualified, without the trailing dot.
    pub name: String,
    /// Record type: MX, TXT, SRV, CNAME.
    pub kind: &'static str,
    /// Record data in zone-file presentation form.
    pub value: String,
    /// Why the record is needed, for the person publishing it.
    pub purpose: &'static str,
}

impl DnsRecord {
    /// Zone-file line (`name. 3600 IN TYPE value`).
    pub fn zone_line(&self) -> String {
        format!("{}. 3600 IN {} {}", self.name, self.kind, self.value)
    }
}

/// TXT record data in zone-file presentation form: `text` quoted, split into character-strings
/// of at most 255 octets (RFC 1035 §3.3.14). A DKIM RSA-2048 record (about 410 octets) needs
/// two; verifiers join them again without a separator (RFC 6376 §3.6.2.2). Splits fall between
/// characters, and quotes and backslashes are escaped (RFC 1035 §5.1).
pub fn txt_value(text: &str) -> String {
    let mut strings = vec![String::new()];
    let mut octets = 0;
    for c in text.chars() {
        if octets + c.len_utf8() > CHARACTER_STRING_MAX {
            strings.push(String::new());
            octets = 0;
        }
        octets += c.len_utf8();
        if let Some(current) = strings.last_mut() {
            if matches!(c, '"' | '\\') {
                current.push('\\');
            }
            current.push(c);
        }
    }
    strings
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The DKIM key record of `domain` (RFC 6376 §3.6.2.1): a TXT record at
/// `<selector>._domainkey.<domain>` holding `v=DKIM1; k=…; p=…`.
pub fn dkim_record(domain: &Domain, key: &DkimPublicKey) -> DnsRecord {
    DnsRecord {
        name: key.record_name(domain),
        kind: "TXT",
        value: txt_value(&key.record_text()),
        purpose: "DKIM public key that verifies the platform's signatures (RFC 6376)",
    }
}

/// The records for `domain` served by the platform host `hostname`. `dkim` is the public half
/// of the service's active key, when one exists and `domain` is the one it signs for.
pub fn required_records(
    domain: &Domain,
    hostname: &str,
    dkim: Option<&DkimPublicKey>,
) -> Vec<DnsRecord> {
    let d = domain.as_str();
    let mut records = vec![
        DnsRecord {
            name: d.into(),
            kind: "MX",
            value: format!("10 {hostname}."),
            purpose: "incoming mail goes to this platform (RFC 5321 §5.1)",
        },
        DnsRecord {
            name: d.into(),
            kind: "TXT",
            value: txt_value(&format!("v=spf1 mx a:{hostname} -all")),
            purpose: "SPF: only this platform sends for the domain (RFC 7208)",
        },
        DnsRecord {
            name: format!("_dmarc.{d}"),
            kind: "TXT",
            value: txt_value(&format!(
                "v=DMARC1; p=quarantine; rua=mailto:postmaster@{d}"
            )),
            purpose: "DMARC policy for messages failing SPF and DKIM (RFC 7489)",
        },
    ];
    if let Some(key) = dkim {
        records.push(dkim_record(domain, key));
    }
    // RFC 6186 §3: client autoconfiguration by SRV, with the implicit-TLS labels of RFC 8314
    // §5.1 (`_submissions`); CLI-3 recommends IMAP 993 and submission 465.
    for (service, port) in [
        ("_submissions._tcp", 465),
        ("_imaps._tcp", 993),
        ("_pop3s._tcp", 995),
    ] {
        records.push(DnsRecord {
            name: format!("{service}.{d}"),
            kind: "SRV",
            value: format!("0 1 {port} {hostname}."),
            purpose: "lets mail clients find the servers by themselves (RFC 6186, RFC 8314)",
        });
    }
    // The ports that start in cleartext and upgrade with STARTTLS are published as not
    // offered (the "." target of RFC 2782), so a client that follows RFC 6186 settles on the
    // implicit-TLS ports above instead of the STARTTLS ones.
    for service in ["_submission._tcp", "_imap._tcp", "_pop3._tcp"] {
        records.push(DnsRecord {
            name: format!("{service}.{d}"),
            kind: "SRV",
            value: "0 0 0 .".into(),
            purpose: "steers mail clients to the TLS ports, not STARTTLS (RFC 6186, RFC 8314)",
        });
    }
    for name in ["autoconfig", "autodiscover"] {
        records.push(DnsRecord {
            name: format!("{name}.{d}"),
            kind: "CNAME",
            value: format!("{hostname}."),
            purpose: "Thunderbird autoconfig and Outlook Autodiscover documents",
        });
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dkim::{DkimAlgorithm, generate_key};

    #[test]
    fn svc_1_records_point_mx_spf_and_srv_at_the_platform() {
        let domain = Domain::parse("Example.COM").unwrap();
        let key = DkimPublicKey {
            selector: "pw1".into(),
            algorithm: DkimAlgorithm::RsaSha256,
            public_key: "MIIBIj".into(),
        };
        let records = required_records(&domain, "mail.host.test", Some(&key));
        let line = |kind: &str, name: &str| {
            records
                .iter()
                .find(|r| r.kind == kind && r.name == name)
                .map(DnsRecord::zone_line)
        };
        assert_eq!(
            line("MX", "example.com").unwrap(),
            "example.com. 3600 IN MX 10 mail.host.test."
        );
        assert!(
            line("TXT", "example.com")
                .unwrap()
                .contains("v=spf1 mx a:mail.host.test -all")
        );
        assert!(
            line("TXT", "_dmarc.example.com")
                .unwrap()
                .contains("v=DMARC1")
        );
        assert!(
            line("TXT", "pw1._domainkey.example.com")
                .unwrap()
                .contains("p=MIIBIj")
        );
        assert!(
            line("SRV", "_imaps._tcp.example.com")
                .unwrap()
                .ends_with("0 1 993 mail.host.test.")
        );
        assert!(
            line("SRV", "_submissions._tcp.example.com")
                .unwrap()
                .contains(" 465 ")
        );
        assert!(line("CNAME", "autoconfig.example.com").is_some());
    }

    #[test]
    fn without_a_key_no_dkim_record_is_invented() {
        let domain = Domain::parse("example.com").unwrap();
        let records = required_records(&domain, "mail.host.test", None);
        assert!(records.iter().all(|r| !r.name.contains("_domainkey")));
    }

    #[test]
    fn svc_1_dkim_record_says_its_key_type_and_splits_long_keys() {
        let domain = Domain::parse("example.com").unwrap();
        let key = generate_key(DkimAlgorithm::RsaSha256, "pw202611").unwrap();
        let public = DkimPublicKey {
            selector: key.selector.clone(),
            algorithm: DkimAlgorithm::RsaSha256,
            public_key: key.public_key.clone(),
        };
        let record = dkim_record(&domain, &public);
        assert_eq!(record.name, "pw202611._domainkey.example.com");
        assert!(
            record.value.starts_with("\"v=DKIM1; k=rsa; p=MIIB"),
            "{}",
            record.value
        );
        // RFC 1035 §3.3: no character-string over 255 octets; joined, they give the text back.
        let strings: Vec<&str> = record
            .value
            .split("\" \"")
            .map(|s| s.trim_matches('"'))
            .collect();
        assert_eq!(strings.len(), 2, "{}", record.value);
        assert!(strings.iter().all(|s| s.len() <= 255));
        assert_eq!(strings.concat(), public.record_text());
        assert!(
            record
                .zone_line()
                .starts_with("pw202611._domainkey.example.com. 3600 IN TXT \"v=DKIM1;")
        );

        let ed = DkimPublicKey {
            algorithm: DkimAlgorithm::Ed25519Sha256,
            public_key: "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=".into(),
            ..public
        };
        assert_eq!(
            dkim_record(&domain, &ed).value,
            "\"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\""
        );
    }

    #[test]
    fn txt_values_are_quoted_and_escaped() {
        assert_eq!(txt_value(""), "\"\"");
        assert_eq!(txt_value("v=spf1 -all"), "\"v=spf1 -all\"");
        assert_eq!(txt_value("a\"b\\c"), "\"a\\\"b\\\\c\"");
        let long = "x".repeat(600);
        assert_eq!(
            txt_value(&long),
            format!(
                "\"{}\" \"{}\" \"{}\"",
                "x".repeat(255),
                "x".repeat(255),
                "x".repeat(90)
            )
        );
    }
}

/// SVC-1: one required record and what DNS answers for it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordCheck {
    /// The record as it should be published.
    pub expected: DnsRecord,
    /// What the resolver answered for the record's name and type, in presentation form
    /// (empty when nothing, or on a lookup failure).
    pub found: Vec<String>,
    /// Whether the record is in place: for MX the platform's host is among the exchanges;
    /// for TXT a string with the same meaning is present (SPF and DMARC compared by their
    /// tags, DKIM by its `p=` key); for SRV the same target and port (for a "not offered"
    /// record, "." as the only target, whatever the port), for CNAME the same target.
    pub in_place: bool,
    /// Set when the lookup itself failed (timeout, SERVFAIL), so "not in place" may be wrong.
    pub lookup_error: Option<String>,
}

/// Asks `resolver` for every record of `records` and compares (SVC-1).
pub async fn check_records(
    records: &[DnsRecord],
    resolver: &dyn postwerk_dns::Resolver,
) -> Vec<RecordCheck> {
    // All at once: when DNS is slow or down, the report takes one timeout, not one per record.
    futures::future::join_all(records.iter().map(|record| check_record(record, resolver))).await
}

/// One record's lookup and comparison.
async fn check_record(record: &DnsRecord, resolver: &dyn postwerk_dns::Resolver) -> RecordCheck {
    let answer = match record.kind {
        "MX" => resolver.mx(&record.name).await.map(|lookup| {
            let found = mx_found(&lookup.answer);
            let in_place = match (&lookup.answer, expected_mx_exchange(&record.value)) {
                (postwerk_dns::MxAnswer::Hosts(hosts), Some(expected)) => {
                    hosts.iter().any(|host| host.exchange == expected)
                }
                _ => false,
            };
            (found, in_place)
        }),
        "TXT" => resolver.txt(&record.name).await.map(|texts| {
            let expected = txt_text(&record.value);
            let in_place = txt_in_place(&expected, &texts);
            (texts.iter().map(|text| txt_value(text)).collect(), in_place)
        }),
        "SRV" => resolver.srv(&record.name).await.map(|records| {
            let in_place = expected_srv(&record.value)
                .is_some_and(|(port, target)| srv_in_place(port, &target, &records));
            let found = records
                .iter()
                .map(|r| {
                    format!(
                        "{} {} {} {}",
                        r.priority,
                        r.weight,
                        r.port,
                        absolute(&r.target)
                    )
                })
                .collect();
            (found, in_place)
        }),
        "CNAME" => resolver.cname(&record.name).await.map(|target| {
            let in_place = target.as_deref() == Some(dns_name(&record.value).as_str());
            (target.iter().map(|t| absolute(t)).collect(), in_place)
        }),
        other => {
            return RecordCheck {
                expected: record.clone(),
                found: Vec::new(),
                in_place: false,
                lookup_error: Some(format!("records of type {other} cannot be checked")),
            };
        }
    };
    match answer {
        Ok((found, in_place)) => RecordCheck {
            expected: record.clone(),
            found,
            in_place,
            lookup_error: None,
        },
        Err(error) => RecordCheck {
            expected: record.clone(),
            found: Vec::new(),
            in_place: false,
            lookup_error: Some(error.to_string()),
        },
    }
}

/// A name as the resolver answers it: lower case, without the trailing dot (the root is
/// empty).
fn dns_name(name: &str) -> String {
    let name = name.trim();
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// A resolver's name in presentation form: fully qualified, with its trailing dot.
fn absolute(name: &str) -> String {
    format!("{name}.")
}

/// MX answers in presentation form (`10 mx.example.com.`); a null MX is `0 .` (RFC 7505).
fn mx_found(answer: &postwerk_dns::MxAnswer) -> Vec<String> {
    match answer {
        postwerk_dns::MxAnswer::Hosts(hosts) => hosts
            .iter()
            .map(|host| format!("{} {}", host.preference, absolute(&host.exchange)))
            .collect(),
        postwerk_dns::MxAnswer::NullMx => vec!["0 .".to_owned()],
        postwerk_dns::MxAnswer::Implicit | postwerk_dns::MxAnswer::NoDomain => Vec::new(),
    }
}

/// The exchange of an expected MX value (`10 mail.host.`).
fn expected_mx_exchange(value: &str) -> Option<String> {
    let mut fields = value.split_whitespace();
    let _preference = fields.next()?;
    fields.next().map(dns_name)
}

/// The port and target of an expected SRV value (`0 1 993 mail.host.`). Priority and weight
/// are the publisher's to choose; a record elsewhere or on another port sends clients astray.
fn expected_srv(value: &str) -> Option<(u16, String)> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [_priority, _weight, port, target] = fields.as_slice() else {
        return None;
    };
    Some((port.parse().ok()?, dns_name(target)))
}

/// Whether `found` publishes the expected SRV target and port. The root target (empty here)
/// says the service is not offered (RFC 2782), and then its port means nothing; but any
/// other record beside it would still send clients there, so it must stand alone.
fn srv_in_place(port: u16, target: &str, found: &[postwerk_dns::SrvRecord]) -> bool {
    if target.is_empty() {
        !found.is_empty() && found.iter().all(|r| r.target.is_empty())
    } else {
        found.iter().any(|r| r.port == port && r.target == target)
    }
}

/// The text of a TXT value in presentation form: its quoted character-strings joined, with
/// the escapes of RFC 1035 §5.1 (`\"`, `\\`, `\DDD`) undone. The reverse of [`txt_value`].
fn txt_text(value: &str) -> String {
    let mut bytes = Vec::new();
    let mut chars = value.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' if quoted => {
                let digits: String = std::iter::from_fn(|| chars.next_if(char::is_ascii_digit))
                    .take(3)
                    .collect();
                if digits.len() == 3
                    && let Ok(byte) = digits.parse::<u8>()
                {
                    bytes.push(byte);
                } else if !digits.is_empty() {
                    bytes.extend_from_slice(digits.as_bytes());
                } else if let Some(escaped) = chars.next() {
                    let mut buffer = [0u8; 4];
                    bytes.extend_from_slice(escaped.encode_utf8(&mut buffer).as_bytes());
                }
            }
            c if quoted => {
                let mut buffer = [0u8; 4];
                bytes.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
            }
            // Whitespace between the character-strings.
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The `tag=value` pairs of a DKIM key record or a DMARC record (RFC 6376 §3.2, RFC 7489
/// §6.4), names lower-cased, values trimmed.
fn tags(text: &str) -> Vec<(String, &str)> {
    text.split(';')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim()))
        .collect()
}

fn tag<'a>(tags: &[(String, &'a str)], name: &str) -> Option<&'a str> {
    tags.iter()
        .find(|(tag, _)| tag == name)
        .map(|(_, value)| *value)
}

/// Whether `text` is a record of the kind whose version tag opens `expected` (`v=spf1`,
/// `v=DMARC1`, `v=DKIM1`), compared without case.
fn has_version(text: &str, version: &str) -> bool {
    let text = text.trim_start();
    text.get(..version.len())
        .is_some_and(|start| start.eq_ignore_ascii_case(version))
        && text[version.len()..]
            .chars()
            .next()
            .is_none_or(|next| next == ' ' || next == ';')
}

/// Whether one of `found` (each record's strings joined) means what `expected` says.
fn txt_in_place(expected: &str, found: &[String]) -> bool {
    if has_version(expected, "v=spf1") {
        spf_in_place(expected, found)
    } else if has_version(expected, "v=DMARC1") {
        dmarc_in_place(expected, found)
    } else if has_version(expected, "v=DKIM1") {
        dkim_in_place(expected, found)
    } else {
        found.iter().any(|text| text == expected)
    }
}

/// SPF (RFC 7208): exactly one record at the name starts with `v=spf1` (§4.5: two are a
/// permanent error) and it holds every mechanism of the expected record that authorises a
/// sender (`mx`, `a:host`); the closing `all` is the publisher's choice.
fn spf_in_place(expected: &str, found: &[String]) -> bool {
    let records: Vec<&String> = found
        .iter()
        .filter(|text| has_version(text, "v=spf1"))
        .collect();
    let [record] = records.as_slice() else {
        return false;
    };
    let terms: Vec<String> = record
        .split_whitespace()
        .skip(1)
        // `+` is the default qualifier (§4.6.2): `+mx` and `mx` are the same mechanism.
        .map(|term| term.strip_prefix('+').unwrap_or(term).to_ascii_lowercase())
        .collect();
    expected
        .split_whitespace()
        .skip(1)
        .map(str::to_ascii_lowercase)
        .filter(|term| !term.ends_with("all"))
        .all(|mechanism| terms.contains(&mechanism))
}

/// DMARC (RFC 7489): exactly one record starts with `v=DMARC1` (§6.6.3: otherwise there is no
/// policy), and its `p=` is at least as strict as the expected one.
fn dmarc_in_place(expected: &str, found: &[String]) -> bool {
    let strictness = |policy: Option<&str>| match policy.map(str::to_ascii_lowercase).as_deref() {
        Some("reject") => 2,
        Some("quarantine") => 1,
        Some("none") => 0,
        _ => -1,
    };
    let records: Vec<&String> = found
        .iter()
        .filter(|text| has_version(text, "v=DMARC1"))
        .collect();
    let [record] = records.as_slice() else {
        return false;
    };
    let wanted = strictness(tag(&tags(expected), "p"));
    let published = strictness(tag(&tags(record), "p"));
    published >= 0 && published >= wanted
}

/// DKIM (RFC 6376 §3.6.1): a key record whose `p=` is the expected key (folding whitespace
/// inside the base64 ignored).
fn dkim_in_place(expected: &str, found: &[String]) -> bool {
    let key = |text: &str| -> Option<String> {
        let key: String = tag(&tags(text), "p")?
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        (!key.is_empty()).then_some(key)
    };
    let Some(expected_key) = key(expected) else {
        return false;
    };
    found
        .iter()
        .filter(|text| has_version(text, "v=DKIM1") || !text.trim_start().starts_with("v="))
        .any(|text| key(text).as_deref() == Some(expected_key.as_str()))
}

#[cfg(test)]
mod check_tests {
    use super::*;

    fn found(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|text| text.to_string()).collect()
    }

    #[test]
    fn txt_presentation_form_is_read_back() {
        for text in ["v=spf1 -all", "a\"b\\c", &"k".repeat(600), ""] {
            assert_eq!(txt_text(&txt_value(text)), text);
        }
        assert_eq!(txt_text("\"caf\\195\\169\""), "café");
    }

    #[test]
    fn spf_needs_one_record_with_the_platform_mechanisms() {
        let expected = "v=spf1 mx a:mail.host.test -all";
        assert!(spf_in_place(expected, &found(&[expected])));
        assert!(spf_in_place(
            expected,
            &found(&[
                "google-site-verification=x",
                "V=SPF1 +MX include:other.test a:mail.host.test ~all"
            ])
        ));
        assert!(!spf_in_place(expected, &found(&["v=spf1 mx -all"])));
        assert!(!spf_in_place(
            expected,
            &found(&["v=spf10 mx a:mail.host.test -all"])
        ));
        // RFC 7208 §4.5: two SPF records are a permanent error.
        assert!(!spf_in_place(expected, &found(&[expected, "v=spf1 -all"])));
        assert!(!spf_in_place(expected, &[]));
    }

    #[test]
    fn dmarc_stricter_policy_counts() {
        let expected = "v=DMARC1; p=quarantine; rua=mailto:postmaster@example.com";
        assert!(dmarc_in_place(
            expected,
            &found(&["v=DMARC1; p=quarantine"])
        ));
        assert!(dmarc_in_place(
            expected,
            &found(&["v=DMARC1;p=REJECT; pct=100"])
        ));
        assert!(!dmarc_in_place(expected, &found(&["v=DMARC1; p=none"])));
        assert!(!dmarc_in_place(expected, &found(&["v=DMARC1"])));
        assert!(!dmarc_in_place(expected, &found(&["p=reject"])));
        assert!(!dmarc_in_place(
            expected,
            &found(&["v=DMARC1; p=reject", "v=DMARC1; p=quarantine"])
        ));
    }

    #[test]
    fn dkim_compares_the_key() {
        let expected = "v=DKIM1; k=rsa; p=MIIBIjANBgkq";
        assert!(dkim_in_place(
            expected,
            &found(&["v=DKIM1; k=rsa; p=MIIBIjANBgkq"])
        ));
        // v= is optional in a key record (RFC 6376 §3.6.1); whitespace may fold the key.
        assert!(dkim_in_place(expected, &found(&["k=rsa; p=MIIBIj ANBgkq"])));
        assert!(!dkim_in_place(
            expected,
            &found(&["v=DKIM1; k=rsa; p=MIIBIjOTHER"])
        ));
        assert!(!dkim_in_place(expected, &found(&["v=DKIM1; k=rsa; p="])));
    }
}
