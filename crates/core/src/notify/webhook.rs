//! ID-12: the webhook SMS gateway. One HTTP/1.1 POST per text to the provider's endpoint, the
//! body built from a configured template, over hyper's client connection on a plain or
//! tokio-rustls stream (the same stack the MTA-STS fetch uses; no connection pool: texts are
//! rare). HTTPS validates the provider's certificate against the platform's roots.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::SmsGateway;
use crate::CoreError;

/// The whole exchange (connect, TLS, request, status line) must fit in this.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The placeholders a body template may use.
const PHONE: &str = "{phone}";
const TEXT: &str = "{text}";

/// What the webhook gateway sends (`[sms]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL the request is POSTed to.
    pub url: String,
    /// The request body; `{phone}` and `{text}` are replaced by the values, escaped for JSON
    /// when `content_type` is JSON, percent-encoded when it is a form, as is otherwise.
    pub body_template: String,
    /// The `Content-Type` of the body, e.g. `application/json`.
    pub content_type: String,
    /// An `Authorization` header value, if the provider needs one (never logged).
    pub authorization: Option<String>,
}

/// Calls an SMS provider's HTTP endpoint; a 2xx answer is success.
#[derive(Clone)]
pub struct WebhookGateway {
    config: WebhookConfig,
    endpoint: Endpoint,
    escaping: Escaping,
    content_type: HeaderValue,
    authorization: Option<HeaderValue>,
}

impl std::fmt::Debug for WebhookGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookGateway")
            .field("url", &self.config.url)
            .finish_non_exhaustive()
    }
}

/// Where the request goes, taken apart once from the URL.
#[derive(Debug, Clone)]
struct Endpoint {
    tls: bool,
    /// The host as a name or an IP address (IPv6 without its brackets).
    host: String,
    port: u16,
    /// `host[:port]` as the URL has it, for the `Host` header.
    authority: String,
    /// Path and query, `/` when the URL has none.
    target: String,
}

/// How placeholder values are written into the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escaping {
    /// Inside a JSON string literal.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// As they are.
    Raw,
}

impl WebhookGateway {
    /// `Invalid` when the URL is not http(s) or the template names no `{text}`.
    pub fn new(config: WebhookConfig) -> Result<WebhookGateway, CoreError> {
        let endpoint = Endpoint::parse(&config.url)?;
        if !config.body_template.contains(TEXT) {
            return Err(CoreError::Invalid(format!(
                "the SMS body template must contain {TEXT}, where the message goes"
            )));
        }
        let content_type = HeaderValue::from_str(config.content_type.trim()).map_err(|_| {
            CoreError::Invalid(format!(
                "the SMS content type {:?} is not a valid header value",
                config.content_type
            ))
        })?;
        let authorization = match &config.authorization {
            Some(value) => {
                let mut value = HeaderValue::from_str(value.trim()).map_err(|_| {
                    CoreError::Invalid(
                        "the SMS authorization value is not a valid header value".to_string(),
                    )
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let escaping = Escaping::for_content_type(&config.content_type);
        Ok(WebhookGateway {
            config,
            endpoint,
            escaping,
            content_type,
            authorization,
        })
    }

    /// The body for one text: the template with its placeholders replaced.
    fn body(&self, phone: &str, text: &str) -> String {
        render(&self.config.body_template, phone, text, self.escaping)
    }

    fn request(&self, body: String) -> Result<Request<Full<Bytes>>, CoreError> {
        let mut request = Request::post(self.endpoint.target.as_str())
            .header(header::HOST, self.endpoint.authority.as_str())
            .header(header::USER_AGENT, "postwerk")
            .header(header::CONNECTION, "close")
            .header(header::CONTENT_TYPE, self.content_type.clone());
        if let Some(authorization) = &self.authorization {
            request = request.header(header::AUTHORIZATION, authorization.clone());
        }
        request
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| CoreError::Invalid(format!("the SMS request is invalid: {error}")))
    }

    /// Connects, sends, and answers the response status.
    async fn exchange(&self, request: Request<Full<Bytes>>) -> Result<StatusCode, String> {
        let endpoint = &self.endpoint;
        let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
            .await
            .map_err(|error| format!("cannot connect: {error}"))?;
        if !endpoint.tls {
            return send(tcp, request).await;
        }
        let config = https_config()?;
        let name = ServerName::try_from(endpoint.host.clone())
            .map_err(|_| format!("{} is not a host name", endpoint.host))?;
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|error| format!("TLS: {error}"))?;
        send(tls, request).await
    }
}

#[async_trait]
impl SmsGateway for WebhookGateway {
    async fn send(&self, phone: &str, text: &str) -> Result<(), CoreError> {
        let request = self.request(self.body(phone, text))?;
        let host = &self.endpoint.host;
        let status = tokio::time::timeout(TIMEOUT, self.exchange(request))
            .await
            .map_err(|_| {
                CoreError::Invalid(format!(
                    "the SMS gateway at {host} did not answer within {} s; the text was not sent",
                    TIMEOUT.as_secs()
                ))
            })?
            .map_err(|reason| {
                CoreError::Invalid(format!(
                    "the SMS gateway at {host} could not be reached ({reason}); the text was not sent"
                ))
            })?;
        if status.is_success() {
            Ok(())
        } else {
            // The provider's body may echo the text (a code): only the status is reported.
            Err(CoreError::Invalid(format!(
                "the SMS gateway at {host} answered HTTP {status}; the text was not sent"
            )))
        }
    }
}

/// One request on a fresh HTTP/1.1 connection over `stream`.
async fn send<S>(stream: S, request: Request<Full<Bytes>>) -> Result<StatusCode, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| format!("HTTP: {error}"))?;
    let driver = tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender.send_request(request).await;
    // Only the status matters; the body is never read (it may echo the text).
    driver.abort();
    response
        .map(|response| response.status())
        .map_err(|error| format!("HTTP: {error}"))
}

/// The HTTPS client configuration (platform roots, aws-lc-rs, ALPN `http/1.1`), built on first
/// use: loading the platform's roots reads the system's CA store.
fn https_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
                .map_err(|error| format!("no trust store for HTTPS: {error}"))?;
            let mut config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|error| format!("TLS: {error}"))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Ok(Arc::new(config))
        })
        .clone()
}

impl Endpoint {
    fn parse(url: &str) -> Result<Endpoint, CoreError> {
        let invalid = || {
            CoreError::Invalid(format!(
                "the SMS gateway URL {url:?} is not a valid http:// or https:// URL with a host"
            ))
        };
        let uri: Uri = url.trim().parse().map_err(|_| invalid())?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(invalid()),
        };
        let authority = uri.authority().ok_or_else(invalid)?;
        // Credentials in the URL would end up in logs; the Authorization setting is for them.
        if authority.as_str().contains('@') {
            return Err(CoreError::Invalid(
                "the SMS gateway URL must not contain credentials: use the authorization setting"
                    .to_string(),
            ));
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        if host.is_empty() {
            return Err(invalid());
        }
        let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let target = uri
            .path_and_query()
            .map_or("/", |target| target.as_str())
            .to_string();
        let target = if target.is_empty() {
            "/".to_string()
        } else {
            target
        };
        Ok(Endpoint {
            tls,
            host,
            port,
            authority: authority.as_str().to_string(),
            target,
        })
    }
}

impl Escaping {
    fn for_content_type(content_type: &str) -> Escaping {
        let content_type = content_type.to_ascii_lowercase();
        let media_type = content_type.split(';').next().unwrap_or_default().trim();
        if media_type == "application/x-www-form-urlencoded" {
            Escaping::Form
        } else if content_type.contains("json") {
            Escaping::Json
        } else {
            Escaping::Raw
        }
    }

    fn write(self, value: &str, out: &mut String) {
        match self {
            Escaping::Json => {
                // serde_json writes a complete string literal; the template has the quotes.
                let literal = serde_json::Value::String(value.to_string()).to_string();
                out.push_str(&literal[1..literal.len() - 1]);
            }
            Escaping::Form => form_encode(value, out),
            Escaping::Raw => out.push_str(value),
        }
    }
}

/// The template with every `{phone}` and `{text}` replaced, in one pass, so a value that
/// happens to contain a placeholder is never replaced again.
fn render(template: &str, phone: &str, text: &str, escaping: Escaping) -> String {
    let mut out = String::with_capacity(template.len() + phone.len() + text.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        if let Some(after) = candidate.strip_prefix(PHONE) {
            escaping.write(phone, &mut out);
            rest = after;
        } else if let Some(after) = candidate.strip_prefix(TEXT) {
            escaping.write(text, &mut out);
            rest = after;
        } else {
            out.push('{');
            rest = &candidate[1..];
        }
    }
    out.push_str(rest);
    out
}

/// The `application/x-www-form-urlencoded` serialisation of one value (WHATWG URL §5.2):
/// alphanumerics and `*-._` as they are, space as `+`, every other UTF-8 byte as `%XX`.
fn form_encode(value: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(url: &str, template: &str, content_type: &str) -> WebhookConfig {
        WebhookConfig {
            url: url.to_string(),
            body_template: template.to_string(),
            content_type: content_type.to_string(),
            authorization: None,
        }
    }

    #[test]
    fn id_12_json_values_are_escaped_inside_the_string_literal() {
        let body = render(
            r#"{"to":"{phone}","text":"{text}"}"#,
            "+41 79",
            "say \"hi\"\n\\ {phone}",
            Escaping::Json,
        );
        assert_eq!(body, r#"{"to":"+41 79","text":"say \"hi\"\n\\ {phone}"}"#);
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["text"], "say \"hi\"\n\\ {phone}");
    }

    #[test]
    fn id_12_form_values_are_percent_encoded() {
        let body = render(
            "to={phone}&msg={text}",
            "+41 79",
            "code: 12 & é",
            Escaping::Form,
        );
        assert_eq!(body, "to=%2B41+79&msg=code%3A+12+%26+%C3%A9");
    }

    #[test]
    fn id_12_other_content_types_take_values_as_they_are_and_keep_other_braces() {
        let body = render("{x} {phone}: {text}", "+4179", "a&b", Escaping::Raw);
        assert_eq!(body, "{x} +4179: a&b");
    }

    #[test]
    fn id_12_content_type_decides_the_escaping() {
        assert_eq!(
            Escaping::for_content_type("application/json; charset=utf-8"),
            Escaping::Json
        );
        assert_eq!(
            Escaping::for_content_type("application/vnd.api+JSON"),
            Escaping::Json
        );
        assert_eq!(
            Escaping::for_content_type("Application/X-WWW-Form-Urlencoded"),
            Escaping::Form
        );
        assert_eq!(Escaping::for_content_type("text/plain"), Escaping::Raw);
    }

    #[test]
    fn id_12_url_and_template_are_checked_at_configuration() {
        let ok = WebhookGateway::new(config(
            "https://sms.example.test:8443/send?x=1",
            "{text}",
            "text/plain",
        ))
        .unwrap();
        assert!(ok.endpoint.tls);
        assert_eq!(ok.endpoint.host, "sms.example.test");
        assert_eq!(ok.endpoint.port, 8443);
        assert_eq!(ok.endpoint.target, "/send?x=1");
        let bare = WebhookGateway::new(config("http://[::1]", "{text}", "text/plain")).unwrap();
        assert_eq!(bare.endpoint.host, "::1");
        assert_eq!(bare.endpoint.port, 80);
        assert_eq!(bare.endpoint.target, "/");

        for url in [
            "ftp://sms.example.test/",
            "sms.example.test/send",
            "http:///send",
            "https://user:pw@sms.example.test/",
            "",
        ] {
            let error = WebhookGateway::new(config(url, "{text}", "text/plain")).unwrap_err();
            assert!(matches!(error, CoreError::Invalid(_)), "{url}: {error}");
        }
        let error =
            WebhookGateway::new(config("http://sms.example.test/", "{phone}", "text/plain"))
                .unwrap_err();
        assert!(error.to_string().contains("{text}"), "{error}");
    }
}
