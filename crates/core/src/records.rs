//! The DNS records a mail service needs (SVC-1), as text an administrator can paste into a zone.
//! Checking whether they are in place needs the resolver of a later issue; this module only says
//! what they must be.

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
    // RFC 6186 §3: client autoconfiguration by SRV; RFC 8314 §5.1 prefers implicit TLS.
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
    for (service, _) in [
        ("_submission._tcp", 587),
        ("_imap._tcp", 143),
        ("_pop3._tcp", 110),
    ] {
        records.push(DnsRecord {
            name: format!("{service}.{d}"),
            kind: "SRV",
            value: "0 0 0 .".into(),
            purpose: "says the cleartext ports are not offered for discovery (RFC 6186 §3.4)",
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
