//! A client for the REST API that is not ours: every request is one run of `curl`, the HTTP
//! client administrators script with, so the tests see exactly what such a script sees.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};
use serde_json::Value;

/// An answer: the status code and the body (JSON when the body parses as JSON, else a string).
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status code.
    pub status: u16,
    /// The body as JSON; a body that is not JSON becomes a JSON string, an empty one `null`.
    pub body: Value,
    /// The raw body.
    pub raw: Vec<u8>,
    /// The response header lines, lowercased names, as `name: value`.
    pub headers: Vec<String>,
}

impl Answer {
    /// The `error.code` of an error body, or "" when there is none.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// The `error.message` of an error body, or "" when there is none.
    pub fn error_message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }

    /// The body, after checking the status; panics with the whole answer otherwise.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected answer: {self:#?}");
        self.body
    }

    /// The error's message, after checking that this is the error `status`/`code` and that it
    /// says why; panics with the whole answer otherwise.
    #[track_caller]
    pub fn refused(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "unexpected answer: {self:#?}");
        assert_eq!(self.error_code(), code, "unexpected answer: {self:#?}");
        let message = self.error_message().to_owned();
        assert!(!message.is_empty(), "an error says why: {self:#?}");
        message
    }

    /// The value of the first header named `name` (lowercase), if any.
    pub fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}:");
        self.headers
            .iter()
            .find(|line| line.starts_with(&prefix))
            .map(|line| line[prefix.len()..].trim())
    }
}

/// How a client proves who it is.
#[derive(Debug, Clone)]
enum Credential {
    None,
    Bearer(String),
    /// A cookie jar file curl reads and writes, as a browser keeps cookies.
    Cookies(PathBuf),
}

/// A curl-driven client for `base` (e.g. `http://127.0.0.1:8080`).
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    credential: Credential,
    /// Extra request headers (`Origin: …` to play a browser on another site).
    headers: Vec<String>,
}

impl Api {
    /// An anonymous client.
    pub fn new(base: impl Into<String>) -> Api {
        Api {
            base: base.into().trim_end_matches('/').to_owned(),
            credential: Credential::None,
            headers: Vec::new(),
        }
    }

    /// The same client sending `Authorization: Bearer <token>`.
    pub fn with_token(&self, token: &str) -> Api {
        Api {
            credential: Credential::Bearer(token.to_owned()),
            ..self.clone()
        }
    }

    /// The same client keeping cookies in `jar` (created by curl on first use).
    pub fn with_cookies(&self, jar: PathBuf) -> Api {
        Api {
            credential: Credential::Cookies(jar),
            ..self.clone()
        }
    }

    /// The same client adding the header line `header` (`Name: value`) to every request.
    pub fn with_header(&self, header: &str) -> Api {
        let mut api = self.clone();
        api.headers.push(header.to_owned());
        api
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.send("GET", path, None, &[])
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> anyhow::Result<Answer> {
        self.send("DELETE", path, None, &[])
    }

    /// `method path` with a JSON body.
    pub fn json(&self, method: &str, path: &str, body: &Value) -> anyhow::Result<Answer> {
        let bytes = serde_json::to_vec(body)?;
        self.send(method, path, Some("application/json"), &bytes)
    }

    /// `method path` with a body of `content_type`.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> anyhow::Result<Answer> {
        let dir = tempfile::tempdir()?;
        let body_file = dir.path().join("body");
        let header_file = dir.path().join("headers");
        let mut command = Command::new("curl");
        command
            .args([
                "--silent",
                "--show-error",
                "--max-time",
                "120",
                "-X",
                method,
            ])
            .arg("-o")
            .arg(&body_file)
            .arg("-D")
            .arg(&header_file)
            .args(["-w", "%{http_code}"]);
        match &self.credential {
            Credential::None => {}
            Credential::Bearer(token) => {
                command.args(["-H", &format!("Authorization: Bearer {token}")]);
            }
            Credential::Cookies(jar) => {
                command.arg("-b").arg(jar).arg("-c").arg(jar);
            }
        }
        for header in &self.headers {
            command.args(["-H", header]);
        }
        if let Some(content_type) = content_type {
            command.args(["-H", &format!("Content-Type: {content_type}")]);
            command.args(["--data-binary", "@-"]);
        }
        command.arg(format!("{}{}", self.base, path));
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().context("cannot run curl")?;
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            if content_type.is_some() {
                stdin.write_all(body)?;
            }
        }
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!(
                "curl {method} {path} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let status: u16 = String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .context("curl printed no status code")?;
        let raw = std::fs::read(&body_file).unwrap_or_default();
        let headers = std::fs::read_to_string(&header_file)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(':')?;
                Some(format!("{}: {}", name.to_ascii_lowercase(), value.trim()))
            })
            .collect();
        let body = match serde_json::from_slice(&raw) {
            Ok(value) => value,
            Err(_) if raw.is_empty() => Value::Null,
            Err(_) => Value::String(String::from_utf8_lossy(&raw).into_owned()),
        };
        Ok(Answer {
            status,
            body,
            raw,
            headers,
        })
    }
}
