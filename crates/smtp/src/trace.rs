//! The `Received:` trace header (RFC 5321 §4.4) added to every message accepted.

use std::net::IpAddr;

/// What the trace line says about one transaction.
#[derive(Debug)]
pub(crate) struct Trace<'a> {
    /// The name the client gave in EHLO/HELO.
    pub helo: &'a str,
    /// The client's address.
    pub ip: IpAddr,
    /// This server's name.
    pub hostname: &'a str,
    /// EHLO (true) or HELO.
    pub extended: bool,
    /// SMTPUTF8 was used (RFC 6531 §3.7.3).
    pub smtputf8: bool,
    /// The session is in TLS.
    pub tls: bool,
    /// The client authenticated.
    pub authenticated: bool,
    /// The transaction id (also in the 250 reply and the logs).
    pub id: &'a str,
    /// The recipient, named only when there is exactly one (RFC 5321 §4.4: a `for` clause
    /// with several recipients would disclose Bcc recipients to each other).
    pub single_recipient: Option<&'a str>,
    /// RFC 5322 date-time.
    pub date: &'a str,
}

impl Trace<'_> {
    /// The header, folded, CRLF-terminated.
    pub(crate) fn header(&self) -> Vec<u8> {
        let mut out = format!(
            "Received: from {} ({})\r\n\tby {} (Postwerk) with {}\r\n\tid {}",
            domain_or_unknown(self.helo),
            address_literal(self.ip),
            self.hostname,
            self.protocol(),
            self.id,
        );
        if let Some(rcpt) = self.single_recipient {
            out.push_str(&format!("\r\n\tfor <{rcpt}>"));
        }
        out.push_str(&format!(";\r\n\t{}\r\n", self.date));
        out.into_bytes()
    }

    /// RFC 3848 and RFC 6531 §3.7.3 "with" protocol names.
    fn protocol(&self) -> String {
        if !self.extended {
            return "SMTP".into();
        }
        let mut name = String::from(if self.smtputf8 { "UTF8SMTP" } else { "ESMTP" });
        if self.tls {
            name.push('S');
        }
        if self.authenticated {
            name.push('A');
        }
        name
    }
}

/// RFC 5321 §4.1.3 address literal.
fn address_literal(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("[{v4}]"),
        IpAddr::V6(v6) => format!("[IPv6:{v6}]"),
    }
}

/// The EHLO name as the client gave it, reduced to what a domain or address literal may hold
/// so that a hostile name cannot inject header text.
fn domain_or_unknown(helo: &str) -> String {
    let kept: String = helo
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':' | '_'))
        .take(255)
        .collect();
    if kept.is_empty() {
        "unknown".into()
    } else {
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_names_client_server_protocol_and_single_recipient() {
        let trace = Trace {
            helo: "client.example",
            ip: IpAddr::from([192, 0, 2, 7]),
            hostname: "mx.example.test",
            extended: true,
            smtputf8: false,
            tls: true,
            authenticated: true,
            id: "ABC123",
            single_recipient: Some("toto@example.com"),
            date: "Thu, 26 Nov 2026 08:00:00 +0000",
        };
        assert_eq!(
            String::from_utf8(trace.header()).unwrap_or_default(),
            "Received: from client.example ([192.0.2.7])\r\n\tby mx.example.test (Postwerk) \
             with ESMTPSA\r\n\tid ABC123\r\n\tfor <toto@example.com>;\r\n\t\
             Thu, 26 Nov 2026 08:00:00 +0000\r\n"
        );
    }

    #[test]
    fn a_hostile_helo_cannot_inject_header_text() {
        assert_eq!(domain_or_unknown("x\r\nBcc: a@b (c)"), "xBcc:abc");
        assert_eq!(domain_or_unknown("()"), "unknown");
    }
}
