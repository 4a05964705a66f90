//! RCV-4 with rspamd: when `[spam] rspamd_url` names a normal worker, each message is scored by
//! rspamd over its HTTP protocol instead of the built-in rules, and its score and symbols are
//! recorded in the `X-Spam-*` headers like the built-in ones.
//!
//! The protocol is rspamd's `POST /checkv2` (rspamd's "Protocol" documentation): the raw
//! message as the body, and what rspamd cannot see in it as request headers — `IP` (the
//! client), `Helo`, `From` (the envelope sender), `Rcpt` (once per recipient), `User` (the
//! authenticated login, for outgoing mail, which rspamd then judges by its outbound rules).
//! rspamd looks up the client's name itself. The answer is a JSON object whose
//! `score` is the total and whose `symbols` maps each symbol's name to an object with its
//! `score`.
//!
//! Thresholds stay ours (`[spam] junk_threshold`, `reject_threshold`): rspamd's own `action`
//! is not followed, so the configuration means the same with and without rspamd.
//!
//! A check that cannot be made — rspamd unreachable, too slow, answering an error or
//! something that is not its JSON — is an [`RspamdError`]; the caller falls back to the
//! built-in score (a spam scorer that is down must not stop the mail, unlike the virus
//! scanner of RCV-6).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;

use crate::spam::{Score, Symbol};

/// The longest answer read from rspamd. A real one is a few KiB (one entry per symbol); the
/// bound keeps a confused or hostile peer from filling our memory.
const MAX_ANSWER: usize = 1024 * 1024;

/// The longest symbol name kept; rspamd's are short upper-case words.
const MAX_SYMBOL_NAME: usize = 100;

/// `[spam] rspamd_url` and its companions: where rspamd's normal worker listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RspamdConfig {
    /// `[spam] rspamd_url`: the normal worker's base URL, plain HTTP
    /// (`http://127.0.0.1:11333`). `/checkv2` is appended.
    pub url: String,
    /// `[spam] rspamd_timeout`: the longest a whole check may take, connection included.
    pub timeout: Duration,
    /// `[spam] rspamd_password`: sent as the `Password` header when set (a normal worker
    /// behind a proxy that asks for one).
    pub password: Option<String>,
}

impl RspamdConfig {
    /// rspamd at `url` with a 15 s timeout and no password.
    pub fn new(url: impl Into<String>) -> RspamdConfig {
        RspamdConfig {
            url: url.into(),
            timeout: Duration::from_secs(15),
            password: None,
        }
    }

    /// Checks that `url` is a plain `http://host[:port][/path]` URL rspamd can be reached at;
    /// the error is a sentence for the configuration file's reader.
    pub fn validate(&self) -> Result<(), String> {
        Endpoint::parse(&self.url).map(|_| ())
    }
}

/// What rspamd is told about a message besides its content.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The connecting client (`IP`); `None` for mail this server makes.
    pub ip: Option<IpAddr>,
    /// The name it gave in EHLO/HELO (`Helo`).
    pub helo: Option<&'a str>,
    /// The envelope sender (`From`); empty for the null sender.
    pub sender: &'a str,
    /// The envelope recipients (`Rcpt`, one header each).
    pub recipients: Vec<&'a str>,
    /// The authenticated login of submitted mail (`User`).
    pub user: Option<&'a str>,
}

/// Why rspamd gave no score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RspamdError(pub String);

impl std::fmt::Display for RspamdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RspamdError {}

/// rspamd's score of `raw`: its total rounded to one decimal (as the built-in score is), and
/// every symbol it reported with its score, sorted by name. Symbols of weight zero are kept:
/// they are what an administrator reads to understand a verdict (`R_SPF_ALLOW`, `DMARC_POLICY_ALLOW`).
pub async fn check(
    config: &RspamdConfig,
    envelope: &Envelope<'_>,
    raw: &[u8],
) -> Result<Score, RspamdError> {
    let endpoint = Endpoint::parse(&config.url).map_err(RspamdError)?;
    let request = request(&endpoint, config, envelope, raw)?;
    let (status, body) = tokio::time::timeout(config.timeout, exchange(&endpoint, request))
        .await
        .map_err(|_| {
            RspamdError(format!(
                "rspamd at {} did not answer within {} s; check that it is running and not \
                 overloaded, or raise rspamd_timeout",
                endpoint.authority,
                config.timeout.as_secs_f64()
            ))
        })?
        .map_err(|reason| {
            RspamdError(format!(
                "rspamd at {} could not be asked ({reason}); check rspamd_url and that rspamd \
                 is running",
                endpoint.authority
            ))
        })?;
    if status != StatusCode::OK {
        return Err(RspamdError(format!(
            "rspamd at {} answered HTTP {status}{}; check its log",
            endpoint.authority,
            error_detail(&body)
        )));
    }
    parse_answer(&body).map_err(|reason| {
        RspamdError(format!(
            "rspamd at {} answered something that is not its /checkv2 JSON ({reason}); check \
             that rspamd_url names rspamd's normal worker",
            endpoint.authority
        ))
    })
}

/// Where the requests go, from `rspamd_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    /// Host name or address (IPv6 without its brackets), for the connection.
    host: String,
    port: u16,
    /// `host[:port]` as the URL has it, for the `Host` header and the messages.
    authority: String,
    /// The request target: the URL's path without its trailing `/`, then `/checkv2`.
    target: String,
}

impl Endpoint {
    /// The endpoint of a plain `http://host[:port][/path]` URL; the error is a sentence.
    fn parse(url: &str) -> Result<Endpoint, String> {
        // Credentials in the URL would end up in logs (rspamd_password is for them); the
        // error messages do not repeat a URL that may hold some.
        if url.contains('@') {
            return Err(
                "rspamd_url must not contain credentials (user:password@): use rspamd_password"
                    .to_string(),
            );
        }
        let invalid = || {
            format!(
                "rspamd_url {url:?} is not a URL like http://127.0.0.1:11333 (plain HTTP, a \
                 host, an optional port and path)"
            )
        };
        let uri: Uri = url.trim().parse().map_err(|_| invalid())?;
        match uri.scheme_str() {
            Some("http") => {}
            // rspamd's workers speak plain HTTP only; TLS in front of them is a proxy's job,
            // and a scorer belongs on loopback or a private network anyway.
            Some("https") => {
                return Err(format!(
                    "rspamd_url {url:?} uses https, but rspamd's normal worker speaks plain \
                     HTTP: use http:// (on loopback or a private network)"
                ));
            }
            _ => return Err(invalid()),
        }
        let authority = uri.authority().ok_or_else(invalid)?;
        if uri.query().is_some() {
            return Err(format!(
                "rspamd_url {url:?} must not have a query: /checkv2 is appended to its path"
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
        // `http::Uri` takes any text after the host's `:` as the port; only a number is one.
        let has_port = authority.as_str().len() > authority.host().len();
        let port = match authority.port_u16() {
            Some(port) => port,
            None if has_port => return Err(invalid()),
            None => 80,
        };
        let target = format!("{}/checkv2", uri.path().trim_end_matches('/'));
        Ok(Endpoint {
            host,
            port,
            authority: authority.as_str().to_string(),
            target,
        })
    }
}

/// The `/checkv2` request: the raw message as the body, the envelope as rspamd's headers.
fn request(
    endpoint: &Endpoint,
    config: &RspamdConfig,
    envelope: &Envelope<'_>,
    raw: &[u8],
) -> Result<Request<Full<Bytes>>, RspamdError> {
    let mut request = Request::post(endpoint.target.as_str())
        .header(header::HOST, endpoint.authority.as_str())
        .header(header::USER_AGENT, "postwerk")
        .header(header::CONNECTION, "close");
    if let Some(ip) = envelope.ip {
        request = request.header("IP", ip.to_string());
    }
    // The client's own words, free text: one rspamd cannot take as a header value is left
    // out (rspamd then scores the message as one without HELO) rather than losing the check.
    if let Some(helo) = envelope
        .helo
        .and_then(|helo| HeaderValue::from_str(helo).ok())
    {
        request = request.header("Helo", helo);
    }
    // The null sender as RFC 5321 writes it, which rspamd reads as the empty reverse-path.
    let sender = if envelope.sender.is_empty() {
        "<>"
    } else {
        envelope.sender
    };
    request = request.header("From", value("From", sender)?);
    for recipient in &envelope.recipients {
        request = request.header("Rcpt", value("Rcpt", recipient)?);
    }
    if let Some(user) = envelope.user {
        request = request.header("User", value("User", user)?);
    }
    if let Some(password) = &config.password {
        let mut password = value("Password", password)?;
        password.set_sensitive(true);
        request = request.header(HeaderName::from_static("password"), password);
    }
    request
        .body(Full::new(Bytes::copy_from_slice(raw)))
        .map_err(|error| RspamdError(format!("the request to rspamd is invalid: {error}")))
}

/// `text` as a header value; addresses may be UTF-8 (SMTPUTF8), which HTTP carries as octets.
fn value(name: &str, text: &str) -> Result<HeaderValue, RspamdError> {
    HeaderValue::from_bytes(text.as_bytes()).map_err(|_| {
        RspamdError(format!(
            "the {name} value contains characters an HTTP header cannot carry, so rspamd \
             cannot be asked about this message"
        ))
    })
}

/// Connects, sends one request on a fresh HTTP/1.1 connection, and reads the status and at
/// most [`MAX_ANSWER`] octets of the body. The error is a short reason for [`check`]'s sentence.
async fn exchange(
    endpoint: &Endpoint,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), String> {
    let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
        .await
        .map_err(|error| format!("cannot connect: {error}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .map_err(|error| format!("HTTP: {error}"))?;
    // The connection is driven by its own task; the guard ends it with this exchange, also
    // when the caller's timeout drops the exchange midway.
    let _driver = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| format!("HTTP: {error}"))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|error| {
            format!("cannot read the answer (at most {MAX_ANSWER} octets are read): {error}")
        })?
        .to_bytes();
    Ok((status, body))
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// rspamd's `/checkv2` answer, the parts we read.
#[derive(Debug, Deserialize)]
struct Answer {
    /// The total.
    score: f64,
    /// Each symbol by name. rspamd always sends the object; an answer without it has no
    /// symbol to record.
    #[serde(default)]
    symbols: BTreeMap<String, AnswerSymbol>,
}

#[derive(Debug, Deserialize)]
struct AnswerSymbol {
    /// What the symbol added; rspamd sends it for every symbol, `0.0` for informational ones.
    score: f64,
}

/// The score in a `/checkv2` answer body; the error is a short reason.
fn parse_answer(body: &[u8]) -> Result<Score, String> {
    let answer: Answer = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    // BTreeMap iterates in key order: the symbols come out sorted by name.
    let symbols = answer
        .symbols
        .into_iter()
        .filter_map(|(name, symbol)| {
            let name = symbol_name(&name)?;
            Some(Symbol {
                name: Cow::Owned(name),
                weight: symbol.score,
            })
        })
        .collect();
    Ok(Score {
        total: (answer.score * 10.0).round() / 10.0,
        symbols,
    })
}

/// A symbol's name as it may appear in `X-Spam-Status: … tests=`: printable ASCII without
/// the `,` that separates names, bounded. rspamd's names are like `R_SPF_ALLOW`; anything
/// else in the answer must not be able to break or extend the header, so it is left out.
/// `None` when nothing printable remains.
fn symbol_name(name: &str) -> Option<String> {
    let name: String = name
        .chars()
        .filter(|c| c.is_ascii_graphic() && *c != ',')
        .take(MAX_SYMBOL_NAME)
        .collect();
    (!name.is_empty()).then_some(name)
}

/// `: <rspamd's error>` from an error answer's `{"error": "..."}`, or nothing. rspamd's error
/// texts describe the request (`Message has been skipped`), never the message; shown escaped
/// and bounded since they come from the network.
fn error_detail(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct ErrorAnswer {
        error: String,
    }
    match serde_json::from_slice::<ErrorAnswer>(body) {
        Ok(answer) => {
            let shown: String = answer.error.chars().take(200).collect();
            format!(": {shown:?}")
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer as rspamd 3.4's `/checkv2` gives it (trimmed to a few symbols, fields kept):
    /// informational symbols of score 0, a negative one, fractional totals.
    const ANSWER: &str = r#"{"is_skipped":false,"score":3.849999,"required_score":15.0,
        "action":"no action","thresholds":{"reject":15.0,"add header":6.0,"greylist":4.0},
        "symbols":{
          "R_SPF_ALLOW":{"name":"R_SPF_ALLOW","score":-0.200000,"metric_score":-0.200000,
            "description":"SPF verification allows sending","options":["+ip4:192.0.2.1"]},
          "HFILTER_HOSTNAME_UNKNOWN":{"name":"HFILTER_HOSTNAME_UNKNOWN","score":2.500000,
            "metric_score":2.500000,"description":"Unknown client hostname"},
          "ARC_NA":{"name":"ARC_NA","score":0.0,"metric_score":0.0,
            "description":"ARC signature absent"},
          "DATE_IN_PAST":{"name":"DATE_IN_PAST","score":1.0,"metric_score":1.0,
            "options":["4284"]},
          "RDNS_NONE":{"name":"RDNS_NONE","score":0.55,"metric_score":1.0}
        },
        "messages":{},"message-id":"b@example.org","time_real":0.012247,
        "milter":{"remove_headers":{"X-Spam":0}}}"#;

    fn names(score: &Score) -> Vec<&str> {
        score.symbols.iter().map(|symbol| &*symbol.name).collect()
    }

    #[test]
    fn rcv_4_rspamd_answer_gives_total_to_one_decimal_and_every_symbol_sorted() {
        let score = parse_answer(ANSWER.as_bytes()).unwrap();
        assert_eq!(score.total, 3.8);
        assert_eq!(
            names(&score),
            [
                "ARC_NA",
                "DATE_IN_PAST",
                "HFILTER_HOSTNAME_UNKNOWN",
                "RDNS_NONE",
                "R_SPF_ALLOW"
            ]
        );
        let weight = |name: &str| {
            score
                .symbols
                .iter()
                .find(|symbol| symbol.name == name)
                .map(|symbol| symbol.weight)
        };
        // Zero-weight symbols are kept: they explain the verdict.
        assert_eq!(weight("ARC_NA"), Some(0.0));
        assert_eq!(weight("R_SPF_ALLOW"), Some(-0.2));
        // The symbol's score, not its metric_score (the weight before any multiplier).
        assert_eq!(weight("RDNS_NONE"), Some(0.55));
    }

    #[test]
    fn rcv_4_rspamd_gtube_answer_is_a_high_score_with_its_symbol() {
        let body = r#"{"is_skipped":true,"score":15.0,"required_score":15.0,"action":"reject",
            "symbols":{"GTUBE":{"name":"GTUBE","score":0.0,"metric_score":0.0}},
            "messages":{"smtp_message":"Gtube pattern"},"message-id":"a@example.org"}"#;
        let score = parse_answer(body.as_bytes()).unwrap();
        assert_eq!(score.total, 15.0);
        assert_eq!(names(&score), ["GTUBE"]);
    }

    #[test]
    fn rcv_4_rspamd_symbol_names_cannot_break_the_spam_header() {
        let body = r#"{"score":1.0,"symbols":{
            "BAD\r\nX-Spam-Status: No":{"score":1.0},
            "A,B":{"score":0.0},
            "\u00e9\r\n":{"score":0.0}}}"#;
        let score = parse_answer(body.as_bytes()).unwrap();
        assert_eq!(names(&score), ["AB", "BADX-Spam-Status:No"]);
    }

    #[test]
    fn rcv_4_an_answer_that_is_not_rspamds_json_is_refused() {
        for body in [
            "",
            "pong\r\n",
            "<html><body>Bad gateway</body></html>",
            r#"{"error":"Message has been skipped"}"#,
            r#"{"score":"high","symbols":{}}"#,
            r#"{"score":5.0,"symbols":{"X":{"name":"X"}}}"#,
        ] {
            assert!(parse_answer(body.as_bytes()).is_err(), "{body:?} accepted");
        }
    }

    #[test]
    fn rcv_4_rspamd_error_answers_are_explained_escaped() {
        assert_eq!(
            error_detail(br#"{"error":"bad\nrequest"}"#),
            r#": "bad\nrequest""#
        );
        assert_eq!(error_detail(b"<html>500</html>"), "");
    }

    #[test]
    fn rcv_4_rspamd_url_must_be_plain_http() {
        for url in [
            "http://127.0.0.1:11333",
            "http://localhost:11333/",
            "http://[::1]:11333",
            "http://rspamd.internal/scan/",
        ] {
            assert_eq!(RspamdConfig::new(url).validate(), Ok(()), "{url}");
        }
        let https = RspamdConfig::new("https://127.0.0.1:11333")
            .validate()
            .unwrap_err();
        assert!(https.contains("plain HTTP"), "{https}");
        for url in [
            "",
            "127.0.0.1:11333",
            "rspamd",
            "ftp://127.0.0.1/",
            "http:///checkv2",
            "http://user:secret@127.0.0.1:11333",
            "http://user:secret@127.0.0.1:notaport",
            "http://127.0.0.1:11333/?x=1",
            "http://127.0.0.1:notaport",
        ] {
            let Err(error) = RspamdConfig::new(url).validate() else {
                panic!("{url:?} accepted");
            };
            assert!(error.starts_with("rspamd_url"), "{url}: {error}");
            assert!(!error.contains("secret"), "{url}: {error}");
        }
    }

    #[test]
    fn rcv_4_checkv2_is_appended_to_the_url_path() {
        let endpoint = Endpoint::parse("http://[::1]:11333").unwrap();
        assert_eq!(endpoint.host, "::1");
        assert_eq!(endpoint.port, 11333);
        assert_eq!(endpoint.target, "/checkv2");
        let endpoint = Endpoint::parse("http://rspamd.internal/scan/").unwrap();
        assert_eq!(endpoint.port, 80);
        assert_eq!(endpoint.authority, "rspamd.internal");
        assert_eq!(endpoint.target, "/scan/checkv2");
    }

    #[test]
    fn rcv_4_envelope_goes_in_rspamds_headers() {
        let config = RspamdConfig {
            password: Some("q1".into()),
            ..RspamdConfig::new("http://127.0.0.1:11333")
        };
        let envelope = Envelope {
            ip: Some("192.0.2.1".parse().unwrap()),
            helo: Some("mail.example.org"),
            sender: "",
            recipients: vec!["bob@example.net", "zoë@example.net"],
            user: Some("alice"),
        };
        let endpoint = Endpoint::parse(&config.url).unwrap();
        let sent = request(&endpoint, &config, &envelope, b"Subject: x\r\n\r\nhi\r\n").unwrap();
        assert_eq!(sent.uri(), "/checkv2");
        let headers = sent.headers();
        assert_eq!(headers["host"], "127.0.0.1:11333");
        assert_eq!(headers["ip"], "192.0.2.1");
        assert_eq!(headers["helo"], "mail.example.org");
        assert_eq!(headers["from"], "<>");
        let recipients: Vec<&[u8]> = headers
            .get_all("rcpt")
            .iter()
            .map(|value| value.as_bytes())
            .collect();
        assert_eq!(
            recipients,
            [b"bob@example.net".as_slice(), "zoë@example.net".as_bytes()]
        );
        assert_eq!(headers["user"], "alice");
        assert!(headers["password"].is_sensitive());

        // A HELO no header can carry is left out; the check still happens.
        let odd = Envelope {
            helo: Some("bad\u{1}helo"),
            ..envelope.clone()
        };
        let without_helo = request(&endpoint, &config, &odd, b"").unwrap();
        assert!(without_helo.headers().get("helo").is_none());
    }
}
