//! An Apple configuration profile (`.mobileconfig`) for macOS and iOS: a property list whose
//! one payload, `com.apple.mail.managed`, sets up an IMAP account with implicit TLS for IMAP
//! and SMTP and the full address as the username.
//!
//! `GET /mobileconfig?address=name@example.com`. The profile is unsigned: the device shows
//! it as "Not Signed" before installing, and installing still asks for the mailbox password
//! (the profile holds none). Its identifier and UUIDs are derived from the platform's host
//! name and the address with SHA-256, so downloading the profile again gives the same
//! identifiers and installing it replaces the earlier copy instead of adding a second account.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use postwerk_model::Address;
use sha2::{Digest, Sha256};

use super::{Hosted, IMAPS_PORT, SUBMISSIONS_PORT, not_hosted, plain, unavailable, xml_escape};
use crate::ApiState;

/// The media type iOS and macOS open as a configuration profile.
const PROFILE_MEDIA_TYPE: &str = "application/x-apple-aspen-config";

/// The query of the profile's URL.
#[derive(Debug, serde::Deserialize)]
pub(super) struct ProfileQuery {
    /// The address to configure.
    address: Option<String>,
}

/// `GET /mobileconfig?address=…`.
pub(super) async fn profile(
    State(state): State<ApiState>,
    Query(query): Query<ProfileQuery>,
) -> Response {
    let Some(address) = query
        .address
        .as_deref()
        .and_then(|text| Address::parse(text).ok())
    else {
        return plain(
            StatusCode::BAD_REQUEST,
            "Add the address to configure: /mobileconfig?address=name@example.com.".into(),
        );
    };
    match Hosted::find(&state, address.domain()).await {
        Ok(Some(hosted)) => {
            let disposition = format!("attachment; filename=\"{}.mobileconfig\"", address.domain());
            (
                [
                    (header::CONTENT_TYPE, PROFILE_MEDIA_TYPE.to_owned()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                document(&address, &hosted.login(&address), &state.hostname),
            )
                .into_response()
        }
        Ok(None) => not_hosted(address.domain()),
        Err(_) => unavailable(),
    }
}

/// The profile for `address`, logging in as `login`, served by `hostname`.
fn document(address: &Address, login: &str, hostname: &str) -> String {
    let address_text = address.to_string();
    let identifier = profile_identifier(hostname, &address_text);
    let profile_uuid = stable_uuid("profile", hostname, &address_text);
    let account_uuid = stable_uuid("mail account", hostname, &address_text);
    let email = xml_escape(&address_text);
    let login = xml_escape(login);
    let host = xml_escape(hostname);
    let identifier = xml_escape(&identifier);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" \"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n\
<plist version=\"1.0\">\n\
<dict>\n\
\t<key>PayloadContent</key>\n\
\t<array>\n\
\t\t<dict>\n\
\t\t\t<key>EmailAccountDescription</key>\n\t\t\t<string>{email}</string>\n\
\t\t\t<key>EmailAccountType</key>\n\t\t\t<string>EmailTypeIMAP</string>\n\
\t\t\t<key>EmailAddress</key>\n\t\t\t<string>{email}</string>\n\
\t\t\t<key>IncomingMailServerAuthentication</key>\n\t\t\t<string>EmailAuthPassword</string>\n\
\t\t\t<key>IncomingMailServerHostName</key>\n\t\t\t<string>{host}</string>\n\
\t\t\t<key>IncomingMailServerPortNumber</key>\n\t\t\t<integer>{IMAPS_PORT}</integer>\n\
\t\t\t<key>IncomingMailServerUseSSL</key>\n\t\t\t<true/>\n\
\t\t\t<key>IncomingMailServerUsername</key>\n\t\t\t<string>{login}</string>\n\
\t\t\t<key>OutgoingMailServerAuthentication</key>\n\t\t\t<string>EmailAuthPassword</string>\n\
\t\t\t<key>OutgoingMailServerHostName</key>\n\t\t\t<string>{host}</string>\n\
\t\t\t<key>OutgoingMailServerPortNumber</key>\n\t\t\t<integer>{SUBMISSIONS_PORT}</integer>\n\
\t\t\t<key>OutgoingMailServerUseSSL</key>\n\t\t\t<true/>\n\
\t\t\t<key>OutgoingMailServerUsername</key>\n\t\t\t<string>{login}</string>\n\
\t\t\t<key>OutgoingPasswordSameAsIncomingPassword</key>\n\t\t\t<true/>\n\
\t\t\t<key>PayloadDescription</key>\n\t\t\t<string>The mail account {email}</string>\n\
\t\t\t<key>PayloadDisplayName</key>\n\t\t\t<string>Mail: {email}</string>\n\
\t\t\t<key>PayloadIdentifier</key>\n\t\t\t<string>{identifier}.account</string>\n\
\t\t\t<key>PayloadType</key>\n\t\t\t<string>com.apple.mail.managed</string>\n\
\t\t\t<key>PayloadUUID</key>\n\t\t\t<string>{account_uuid}</string>\n\
\t\t\t<key>PayloadVersion</key>\n\t\t\t<integer>1</integer>\n\
\t\t</dict>\n\
\t</array>\n\
\t<key>PayloadDescription</key>\n\t<string>Sets up the mail account {email} (IMAP and SMTP over TLS).</string>\n\
\t<key>PayloadDisplayName</key>\n\t<string>Mail account {email}</string>\n\
\t<key>PayloadIdentifier</key>\n\t<string>{identifier}</string>\n\
\t<key>PayloadOrganization</key>\n\t<string>{host}</string>\n\
\t<key>PayloadRemovalDisallowed</key>\n\t<false/>\n\
\t<key>PayloadType</key>\n\t<string>Configuration</string>\n\
\t<key>PayloadUUID</key>\n\t<string>{profile_uuid}</string>\n\
\t<key>PayloadVersion</key>\n\t<integer>1</integer>\n\
</dict>\n\
</plist>\n"
    )
}

/// SHA-256 over the parts of a name, each ended by a NUL so that no two lists of parts
/// give the same input.
fn digest(parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"postwerk mobileconfig\0");
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().into()
}

/// A reverse-DNS identifier, the same for every download of `address`'s profile from
/// `hostname`: the host name's labels reversed, then a digest of the address (the address
/// itself may hold characters an identifier should not).
fn profile_identifier(hostname: &str, address: &str) -> String {
    let reversed: Vec<&str> = hostname.rsplit('.').filter(|l| !l.is_empty()).collect();
    let digest = digest(&["identifier", hostname, address]);
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}.mobileconfig.{tag}", reversed.join("."))
}

/// A UUID derived from the name (RFC 9562 §5.8, version 8: the bits are ours, here the
/// first 128 of a SHA-256), so the same address always gets the same UUID.
fn stable_uuid(kind: &str, hostname: &str, address: &str) -> String {
    let digest = digest(&[kind, hostname, address]);
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10 (RFC 9562 §4.1)
    let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_stable_per_address_and_well_formed() {
        let first = stable_uuid("profile", "mail.host.test", "bob@example.test");
        assert_eq!(
            first,
            stable_uuid("profile", "mail.host.test", "bob@example.test")
        );
        assert_ne!(
            first,
            stable_uuid("profile", "mail.host.test", "ann@example.test")
        );
        assert_ne!(
            first,
            stable_uuid("mail account", "mail.host.test", "bob@example.test")
        );
        let groups: Vec<usize> = first.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{first}");
        assert_eq!(&first[14..15], "8", "version 8: {first}");
        assert!("89AB".contains(&first[19..20]), "variant: {first}");
    }

    #[test]
    fn the_identifier_is_reverse_dns_of_the_host() {
        let id = profile_identifier("mail.host.test", "bob@example.test");
        assert!(id.starts_with("test.host.mail.mobileconfig."), "{id}");
        assert_eq!(id, profile_identifier("mail.host.test", "bob@example.test"));
        assert_ne!(id, profile_identifier("mail.host.test", "ann@example.test"));
    }
}
