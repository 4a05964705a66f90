//! The otpauth URI of a 2FA enrolment as an inline SVG QR code, for the authenticator app's
//! camera. Inline markup rather than an image URL: the secret it carries then never travels
//! in a second request or lands in a cache.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// The SVG element (no XML declaration, so it can sit inside HTML), or `None` when the text
/// is too long for a QR code (never for an otpauth URI of a login address).
pub fn svg(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(220, 220)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    let start = image.find("<svg")?;
    Some(image[start..].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_otpauth_uri_becomes_an_svg_element() {
        let image = svg(
            "otpauth://totp/Postwerk:jane%40example.net?secret=JBSWY3DPEHPK3PXP&issuer=Postwerk",
        )
        .expect("a QR code");
        assert!(image.starts_with("<svg"), "{image}");
        assert!(image.ends_with("</svg>"), "{image}");
        assert!(!image.contains("<?xml"));
        assert!(svg(&"x".repeat(8000)).is_none());
    }
}
