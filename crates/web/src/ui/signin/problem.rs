//! A refusal from `core` shown next to the form that caused it, as a sentence a person reads.

use axum::http::StatusCode;
use postwerk_core::CoreError;

use crate::error::ApiError;
use crate::ui::page::PageError;

/// What went wrong with a form: its status and the sentence shown above it.
#[derive(Debug, Clone)]
pub struct Problem {
    /// 400, 404, 409 or 429: the status the form is shown again with.
    pub status: StatusCode,
    /// The sentence, capitalised and ending with a full stop.
    pub message: String,
}

impl Problem {
    /// A problem with this status and sentence.
    pub fn new(status: StatusCode, message: &str) -> Problem {
        Problem {
            status,
            message: sentence(message),
        }
    }
}

/// `error` as a problem to show beside the form when it is the person's to fix (a refusal),
/// else the error page (our fault: nothing the form can change).
pub fn form_problem(error: CoreError) -> Result<Problem, PageError> {
    api_problem(ApiError::from(error))
}

/// As [`form_problem`], for an answer already worded by the API's error mapping.
pub fn api_problem(error: ApiError) -> Result<Problem, PageError> {
    if error.status().is_client_error() {
        Ok(Problem::new(error.status(), error.message()))
    } else {
        Err(PageError::from(error))
    }
}

/// `text` with a capital first letter and a final full stop: core words its refusals as
/// clauses ("the code is wrong…") for the API; a page shows them as sentences.
pub fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut out: String = first.to_uppercase().chain(chars).collect();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_become_sentences() {
        assert_eq!(sentence("the code is wrong"), "The code is wrong.");
        assert_eq!(sentence(" Already done. "), "Already done.");
        assert_eq!(sentence(""), "");
    }

    #[test]
    fn our_faults_go_to_the_error_page() {
        let refused = form_problem(CoreError::Invalid("a weak password".into()));
        assert_eq!(
            refused.map(|p| p.status).ok(),
            Some(StatusCode::BAD_REQUEST)
        );
        let ours = api_problem(ApiError::internal(&"disk on fire"));
        assert!(ours.is_err());
    }
}
