//! Thunderbird's autoconfig file (Mozilla's "Autoconfig file format", `config-v1.1.xml`):
//! `clientConfig` › `emailProvider` › `incomingServer` (IMAP first, so it is preferred, then
//! POP3) and `outgoingServer` (SMTP), all with implicit TLS (`socketType` SSL).
//!
//! Thunderbird asks `https://<domain>/.well-known/autoconfig/mail/config-v1.1.xml` and
//! `https://autoconfig.<domain>/mail/config-v1.1.xml`, adding `?emailaddress=<address>`. The
//! domain answered for is the address's when given, else the one the request's host names.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use postwerk_model::{Address, Domain};

use super::{
    Hosted, IMAPS_PORT, POP3S_PORT, SUBMISSIONS_PORT, not_hosted, plain, unavailable, xml_escape,
};
use crate::ApiState;

/// The query Thunderbird sends.
#[derive(Debug, serde::Deserialize)]
pub(super) struct ConfigQuery {
    /// The address typed into the account wizard.
    emailaddress: Option<String>,
}

/// `GET /.well-known/autoconfig/mail/config-v1.1.xml` and `GET /mail/config-v1.1.xml`.
pub(super) async fn config(
    State(state): State<ApiState>,
    Query(query): Query<ConfigQuery>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let domain = match &query.emailaddress {
        Some(text) => match Address::parse(text) {
            Ok(address) => address.domain().clone(),
            Err(_) => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    "The emailaddress parameter is not an email address; send the full \
                     address, like name@example.com."
                        .into(),
                );
            }
        },
        None => match domain_of_host(&uri, &headers) {
            Some(domain) => domain,
            None => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    "Say which address to configure: add ?emailaddress=name@example.com, or \
                     ask through autoconfig.<your domain>."
                        .into(),
                );
            }
        },
    };
    match Hosted::find(&state, &domain).await {
        Ok(Some(hosted)) => (
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            document(&domain, &hosted, &state.hostname),
        )
            .into_response(),
        Ok(None) => not_hosted(&domain),
        Err(_) => unavailable(),
    }
}

/// The mail domain a request's host names: `autoconfig.<domain>` or `<domain>` itself
/// (the `.well-known` form). `None` without a host that parses as a domain.
fn domain_of_host(uri: &Uri, headers: &HeaderMap) -> Option<Domain> {
    // HTTP/2 carries the host in the URI's authority, HTTP/1.1 in the Host header.
    let host = match uri.host() {
        Some(host) => host.to_owned(),
        None => {
            let value = headers.get(header::HOST)?.to_str().ok()?;
            // Drop a port; an IPv6 literal (`[::1]:8080`) is no domain anyway.
            value
                .rsplit_once(':')
                .map_or(value, |(host, _)| host)
                .to_owned()
        }
    };
    let host = host.strip_suffix('.').unwrap_or(&host);
    let name = match host.get(..11) {
        Some(prefix) if prefix.eq_ignore_ascii_case("autoconfig.") => &host[11..],
        _ => host,
    };
    Domain::parse(name).ok()
}

/// The document for `domain`, served by `hostname`.
fn document(domain: &Domain, hosted: &Hosted, hostname: &str) -> String {
    // Thunderbird fills in the placeholders from what the user typed. An alias domain's
    // addresses log in with the primary domain (see `Hosted::login`).
    let username = if hosted.is_primary(domain) {
        "%EMAILADDRESS%".to_owned()
    } else {
        format!("%EMAILLOCALPART%@{}", hosted.service.domain)
    };
    let domain = xml_escape(domain.as_str());
    let host = xml_escape(hostname);
    let username = xml_escape(&username);
    let server = |element: &str, kind: &str, port: u16| {
        format!(
            "    <{element} type=\"{kind}\">\n\
             \x20     <hostname>{host}</hostname>\n\
             \x20     <port>{port}</port>\n\
             \x20     <socketType>SSL</socketType>\n\
             \x20     <authentication>password-cleartext</authentication>\n\
             \x20     <username>{username}</username>\n\
             \x20   </{element}>\n"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <clientConfig version=\"1.1\">\n\
         \x20 <emailProvider id=\"{domain}\">\n\
         \x20   <domain>{domain}</domain>\n\
         \x20   <displayName>Mail for {domain}</displayName>\n\
         \x20   <displayShortName>{domain}</displayShortName>\n\
         {imap}{pop3}{smtp}\
         \x20 </emailProvider>\n\
         </clientConfig>\n",
        imap = server("incomingServer", "imap", IMAPS_PORT),
        pop3 = server("incomingServer", "pop3", POP3S_PORT),
        smtp = server("outgoingServer", "smtp", SUBMISSIONS_PORT),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(value: &str) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, value.parse().expect("header value"));
        domain_of_host(&Uri::from_static("/mail/config-v1.1.xml"), &headers)
            .map(|domain| domain.to_string())
    }

    #[test]
    fn the_host_names_the_domain_with_or_without_the_autoconfig_label() {
        assert_eq!(
            host("autoconfig.Example.test").as_deref(),
            Some("example.test")
        );
        assert_eq!(host("example.test:8080").as_deref(), Some("example.test"));
        assert_eq!(host("example.test.").as_deref(), Some("example.test"));
        assert_eq!(host("[::1]:8080"), None);
        assert_eq!(host(""), None);
    }
}
