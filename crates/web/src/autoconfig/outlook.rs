//! Outlook's POX Autodiscover ([MS-OXDSCLI]): the client posts
//! `Autodiscover › Request › EMailAddress, AcceptableResponseSchema` and reads
//! `Autodiscover › Response › Account › Protocol` (one per server: `Type`, `Server`, `Port`,
//! `SSL`, `LoginName`, …) from the Outlook 2006a response schema, or
//! `Autodiscover › Response › Error` with one of the documented error codes.
//!
//! The request is read with a real XML parser (quick-xml): no DTD, no entity but the five
//! predefined ones and character references, nesting checked, a body of at most
//! [`AUTODISCOVER_BODY_LIMIT`](super::AUTODISCOVER_BODY_LIMIT) octets.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use postwerk_model::Address;
use quick_xml::events::Event;
use sha2::{Digest, Sha256};

use super::{Hosted, IMAPS_PORT, SUBMISSIONS_PORT, xml_escape};
use crate::ApiState;

/// The only response schema served: Outlook's ([MS-OXDSCLI] §2.2.4).
const OUTLOOK_SCHEMA: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a";

/// The namespace of the response's outer `Autodiscover` element.
const RESPONSE_NAMESPACE: &str =
    "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006";

/// `POST /autodiscover/autodiscover.xml` (and its capitalised spelling).
pub(super) async fn autodiscover(State(state): State<ApiState>, body: Bytes) -> Response {
    let request = match parse_request(&body) {
        Ok(request) => request,
        Err(reason) => return Failure::InvalidRequest(reason).respond(&state.hostname),
    };
    if request.schema != OUTLOOK_SCHEMA {
        return Failure::UnsupportedSchema.respond(&state.hostname);
    }
    let Ok(address) = Address::parse(&request.email) else {
        return Failure::InvalidRequest("EMailAddress is not an email address")
            .respond(&state.hostname);
    };
    match Hosted::find(&state, address.domain()).await {
        Ok(Some(hosted)) => (
            [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
            settings(&hosted.login(&address), &state.hostname),
        )
            .into_response(),
        Ok(None) => Failure::NotHosted.respond(&state.hostname),
        Err(_) => Failure::Internal.respond(&state.hostname),
    }
}

/// What the client asked.
#[derive(Debug, PartialEq, Eq)]
struct AutodiscoverRequest {
    email: String,
    schema: String,
}

/// Reads `Autodiscover › Request › {EMailAddress, AcceptableResponseSchema}` from `body`;
/// the error says what is wrong, for the `Message` of the error response.
fn parse_request(body: &[u8]) -> Result<AutodiscoverRequest, &'static str> {
    let text = std::str::from_utf8(body).map_err(|_| "the request is not UTF-8")?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut path: Vec<String> = Vec::new();
    let mut email: Option<String> = None;
    let mut schema: Option<String> = None;
    // The text of the element being read, when it is one of the two wanted.
    let mut field: Option<String> = None;
    loop {
        let event = reader
            .read_event()
            .map_err(|_| "the request is not well-formed XML")?;
        match event {
            Event::Start(start) => {
                path.push(start.local_name().as_ref().to_owned());
                if field.is_some() {
                    return Err("EMailAddress and AcceptableResponseSchema hold text only");
                }
                if wanted(&path).is_some() {
                    field = Some(String::new());
                } else if path.len() == 1 && path[0] != "Autodiscover" {
                    return Err("the root element is not Autodiscover");
                }
            }
            Event::Empty(start) => {
                if field.is_some() {
                    return Err("EMailAddress and AcceptableResponseSchema hold text only");
                }
                if path.is_empty() && start.local_name().as_ref() != "Autodiscover" {
                    return Err("the root element is not Autodiscover");
                }
            }
            Event::Text(text) => {
                if let Some(field) = field.as_mut() {
                    field.push_str(&text.xml10_content());
                }
            }
            Event::CData(data) => {
                if let Some(field) = field.as_mut() {
                    field.push_str(&data.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref() {
                    Ok(Some(c)) => c.to_string(),
                    Ok(None) => {
                        quick_xml::escape::resolve_predefined_entity(&reference.xml10_content())
                            .ok_or("the request uses an undeclared entity")?
                            .to_owned()
                    }
                    Err(_) => return Err("the request has an invalid character reference"),
                };
                if let Some(field) = field.as_mut() {
                    field.push_str(&resolved);
                }
            }
            Event::End(_) => {
                if let Some(value) = field.take() {
                    match wanted(&path) {
                        Some(Wanted::Email) => email = Some(value.trim().to_owned()),
                        Some(Wanted::Schema) => schema = Some(value.trim().to_owned()),
                        None => {}
                    }
                }
                path.pop();
            }
            // A DTD could declare entities; a request has no use for one.
            Event::DocType(_) => return Err("the request must not have a document type"),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    Ok(AutodiscoverRequest {
        email: email.ok_or("the request has no Autodiscover/Request/EMailAddress")?,
        schema: schema.ok_or("the request has no Autodiscover/Request/AcceptableResponseSchema")?,
    })
}

/// The two elements of the request that are read.
enum Wanted {
    Email,
    Schema,
}

/// Which wanted element `path` (local names from the root) is, if any.
fn wanted(path: &[String]) -> Option<Wanted> {
    match path {
        [root, request, leaf] if root == "Autodiscover" && request == "Request" => {
            match leaf.as_str() {
                "EMailAddress" => Some(Wanted::Email),
                "AcceptableResponseSchema" => Some(Wanted::Schema),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The settings of `login`'s account, served by `hostname`.
fn settings(login: &str, hostname: &str) -> String {
    let host = xml_escape(hostname);
    let login = xml_escape(login);
    let protocol = |kind: &str, port: u16| {
        format!(
            "      <Protocol>\n\
             \x20       <Type>{kind}</Type>\n\
             \x20       <Server>{host}</Server>\n\
             \x20       <Port>{port}</Port>\n\
             \x20       <DomainRequired>off</DomainRequired>\n\
             \x20       <LoginName>{login}</LoginName>\n\
             \x20       <SPA>off</SPA>\n\
             \x20       <SSL>on</SSL>\n\
             \x20       <AuthRequired>on</AuthRequired>\n\
             \x20     </Protocol>\n"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <Autodiscover xmlns=\"{RESPONSE_NAMESPACE}\">\n\
         \x20 <Response xmlns=\"{OUTLOOK_SCHEMA}\">\n\
         \x20   <Account>\n\
         \x20     <AccountType>email</AccountType>\n\
         \x20     <Action>settings</Action>\n\
         {imap}{smtp}\
         \x20   </Account>\n\
         \x20 </Response>\n\
         </Autodiscover>\n",
        imap = protocol("IMAP", IMAPS_PORT),
        smtp = protocol("SMTP", SUBMISSIONS_PORT),
    )
}

/// The errors of [MS-OXDSCLI] §2.2.4.1.1.3.1 this endpoint answers.
enum Failure {
    /// 600: the request is not a well-formed Autodiscover request.
    InvalidRequest(&'static str),
    /// 601: a response schema other than Outlook's was asked for (ActiveSync's, say).
    UnsupportedSchema,
    /// 500: the address's domain is not hosted here.
    NotHosted,
    /// 603: the directory could not be read.
    Internal,
}

impl Failure {
    fn respond(&self, hostname: &str) -> Response {
        let (status, code, message) = match self {
            Failure::InvalidRequest(reason) => (
                StatusCode::BAD_REQUEST,
                600,
                format!("Invalid Request: {reason}."),
            ),
            Failure::UnsupportedSchema => (
                StatusCode::NOT_ACCEPTABLE,
                601,
                format!("Only the response schema {OUTLOOK_SCHEMA} is served here."),
            ),
            Failure::NotHosted => (
                StatusCode::NOT_FOUND,
                500,
                "The email address cannot be found: its domain is not hosted here.".to_owned(),
            ),
            Failure::Internal => (
                StatusCode::SERVICE_UNAVAILABLE,
                603,
                "The mail directory cannot be read right now; try again in a minute.".to_owned(),
            ),
        };
        (
            status,
            [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
            error_document(code, &message, hostname),
        )
            .into_response()
    }
}

/// An error response: `Autodiscover › Response › Error` with `Time` (of day, UTC) and `Id`
/// (in Exchange a hash of the server's name; here of the platform's host name).
fn error_document(code: u16, message: &str, hostname: &str) -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() % 86_400);
    let time = format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    );
    let digest = Sha256::digest(hostname.as_bytes());
    let id = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <Autodiscover xmlns=\"{RESPONSE_NAMESPACE}\">\n\
         \x20 <Response>\n\
         \x20   <Error Time=\"{time}\" Id=\"{id}\">\n\
         \x20     <ErrorCode>{code}</ErrorCode>\n\
         \x20     <Message>{message}</Message>\n\
         \x20     <DebugData />\n\
         \x20   </Error>\n\
         \x20 </Response>\n\
         </Autodiscover>\n",
        message = xml_escape(message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(email: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
             <Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\">\
             <Request><EMailAddress>{email}</EMailAddress>\
             <AcceptableResponseSchema>{OUTLOOK_SCHEMA}</AcceptableResponseSchema>\
             </Request></Autodiscover>"
        )
    }

    #[test]
    fn the_address_and_schema_are_read_with_references_resolved() {
        assert_eq!(
            parse_request(request("bob&amp;co@example.test").as_bytes()),
            Ok(AutodiscoverRequest {
                email: "bob&co@example.test".into(),
                schema: OUTLOOK_SCHEMA.into(),
            })
        );
        assert_eq!(
            parse_request(request("&#98;ob@example.test").as_bytes()).map(|r| r.email),
            Ok("bob@example.test".into())
        );
    }

    #[test]
    fn malformed_requests_are_refused_with_a_reason() {
        for body in [
            "not xml at all".to_owned(),
            "<Autodiscover><Request><EMailAddress>a@b.test</Request></Autodiscover>".to_owned(),
            "<Other><Request/></Other>".to_owned(),
            "<Autodiscover><Request></Request></Autodiscover>".to_owned(),
            "<!DOCTYPE x [<!ENTITY e \"bob\">]>".to_owned() + &request("&e;@example.test"),
            request("&unknown;@example.test"),
            request("<b>bob</b>@example.test"),
        ] {
            assert!(parse_request(body.as_bytes()).is_err(), "accepted: {body}");
        }
        assert!(parse_request(&[0xff, 0xfe, b'<']).is_err());
    }
}
