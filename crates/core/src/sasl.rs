//! SASL pieces every protocol shares: the secret wrapper that keeps passwords out of logs, and
//! the PLAIN mechanism (RFC 4616) that SMTP (RFC 4954), POP3 (RFC 5034) and IMAP (RFC 9051
//! §6.2.2) offer inside TLS.

use std::fmt;

use zeroize::Zeroizing;

/// A password or SASL response: kept in a buffer wiped on drop, and hidden from `Debug` so it
/// never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a secret.
    pub fn new(text: String) -> Secret {
        Secret(Zeroizing::new(text))
    }

    /// The secret itself; only for checking it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// The decoded response of SASL PLAIN (RFC 4616 §2):
/// `message = [authzid] UTF8NUL authcid UTF8NUL passwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainResponse {
    /// The identity to act as; empty for "the same as authcid".
    pub authzid: String,
    /// The identity whose password this is: the full address (ID-2).
    pub authcid: String,
    /// The password.
    pub password: Secret,
}

impl PlainResponse {
    /// Decodes a client response: base64 (RFC 5034 §4; `=` is an empty response), then the
    /// three NUL-separated UTF-8 fields. `None` for anything else.
    pub fn decode(text: &str) -> Option<PlainResponse> {
        use base64::Engine;
        let text = text.trim();
        let decoded = if text == "=" {
            Zeroizing::new(Vec::new())
        } else {
            Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .ok()?,
            )
        };
        let mut parts = decoded.split(|&b| b == 0);
        let (Some(authzid), Some(authcid), Some(password), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let text = |bytes: &[u8]| std::str::from_utf8(bytes).ok().map(str::to_owned);
        let authcid = text(authcid)?;
        if authcid.is_empty() {
            return None;
        }
        Some(PlainResponse {
            authzid: text(authzid)?,
            authcid,
            password: Secret::new(text(password)?),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sasl_plain_responses_decode_into_their_three_fields() {
        // "\0toto@example.test\0pw one"
        let response = PlainResponse::decode("AHRvdG9AZXhhbXBsZS50ZXN0AHB3IG9uZQ==").unwrap();
        assert_eq!(response.authzid, "");
        assert_eq!(response.authcid, "toto@example.test");
        assert_eq!(response.password.expose(), "pw one");
        // "a\0b\0c"
        let with_authzid = PlainResponse::decode("YQBiAGM=").unwrap();
        assert_eq!(with_authzid.authzid, "a");
        for bad in ["=", "not base64!", "YWJj", "YQBiAGMAZA==", "AABj"] {
            assert_eq!(PlainResponse::decode(bad), None, "{bad}");
        }
    }
}
