//! RCV-5's attachment and zip inspector, with the default limits the server uses.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use postwerk_filter::attachments::{ArchiveLimits, check, refusal};

/// Runs `input` through the inspector twice: as a whole message, and as the content of a zip
/// attachment (so the fuzzer reaches the archive reader without having to write MIME and
/// base64 around its zip).
pub fn attachments(input: &[u8]) {
    let limits = ArchiveLimits::default();
    for message in [input.to_vec(), as_zip_attachment(input)] {
        if let Some(reply) = check(&message, &limits) {
            assert_eq!(
                reply,
                refusal(),
                "the inspector refuses only with RCV-5's reply"
            );
        }
    }
}

/// A message whose one attachment, `archive.zip`, holds `content`.
fn as_zip_attachment(content: &[u8]) -> Vec<u8> {
    let mut message = b"From: a@example.test\r\n\
To: b@example.test\r\n\
Subject: archive\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
See the archive.\r\n\
--b\r\n\
Content-Type: application/zip; name=\"archive.zip\"\r\n\
Content-Disposition: attachment; filename=\"archive.zip\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n"
        .to_vec();
    let encoded = STANDARD.encode(content);
    for line in encoded.as_bytes().chunks(76) {
        message.extend_from_slice(line);
        message.extend_from_slice(b"\r\n");
    }
    message.extend_from_slice(b"--b--\r\n");
    message
}
