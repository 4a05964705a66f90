//! The DNS records a mail service needs (SVC-1), as text an administrator can paste into a zone.
//! Checking whether they are in place needs the resolver of a later issue; this module only says
//! what they must be.

use postwerk_model::Domain;

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

/// The records for `domain` served by the platform host `hostname`. `dkim` is the selector and
/// the base64 SubjectPublicKeyInfo of the service's key, when one exists.
pub fn required_records(
    domain: &Domain,
    hostname: &str,
    dkim: Option<(&str, &str)>,
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
            value: format!("\"v=spf1 mx a:{hostname} -all\""),
            purpose: "SPF: only this platform sends for the domain (RFC 7208)",
        },
        DnsRecord {
            name: format!("_dmarc.{d}"),
            kind: "TXT",
            value: format!("\"v=DMARC1; p=quarantine; rua=mailto:postmaster@{d}\""),
            purpose: "DMARC policy for messages failing SPF and DKIM (RFC 7489)",
        },
    ];
    if let Some((selector, public_key)) = dkim {
        records.push(DnsRecord {
            name: format!("{selector}._domainkey.{d}"),
            kind: "TXT",
            value: format!("\"v=DKIM1; k=rsa; p={public_key}\""),
            purpose: "DKIM public key that verifies the platform's signatures (RFC 6376)",
        });
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

    #[test]
    fn svc_1_records_point_mx_spf_and_srv_at_the_platform() {
        let domain = Domain::parse("Example.COM").unwrap();
        let records = required_records(&domain, "mail.host.test", Some(("pw1", "MIIBIj")));
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
}
