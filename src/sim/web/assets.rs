//! Static files of the pages, all inside the binary: the stylesheet, the small
//! page script (review form, inline comments, Mermaid start-up), Mermaid itself
//! (gzipped, see assets/mermaid/README.md) and generated avatars.

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("static/web.css");
const JS: &str = include_str!("static/web.js");
/// Mermaid 12.3.0's `dist/mermaid.min.js`, `gzip -9n`.
const MERMAID_GZ: &[u8] = include_bytes!("../../../assets/mermaid/mermaid.min.js.gz");

pub async fn serve(Path(name): Path<String>) -> Response {
    let cache = (header::CACHE_CONTROL, "public, max-age=3600");
    match name.as_str() {
        "web.css" => (
            [(header::CONTENT_TYPE, "text/css; charset=utf-8"), cache],
            CSS,
        )
            .into_response(),
        "web.js" => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                cache,
            ],
            JS,
        )
            .into_response(),
        // Sent gzipped whatever the request says: every browser decodes gzip,
        // and the binary then carries 1.6 MB instead of 5.5 MB.
        "mermaid.min.js" => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CONTENT_ENCODING, "gzip"),
                cache,
            ],
            MERMAID_GZ,
        )
            .into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A round avatar with the login's initial on a colour derived from the login
/// (GitHub serves identicons; a simulator has no pictures).
pub async fn avatar(Path(login): Path<String>) -> Response {
    let h = login
        .bytes()
        .fold(2166136261u32, |h, b| (h ^ b as u32).wrapping_mul(16777619));
    let hue = h % 360;
    let initial = login
        .chars()
        .find(|c| c.is_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .unwrap_or('?');
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"64\" height=\"64\" viewBox=\"0 0 64 64\">\
         <circle cx=\"32\" cy=\"32\" r=\"32\" fill=\"hsl({hue},55%,45%)\"/>\
         <text x=\"32\" y=\"42\" font-family=\"sans-serif\" font-size=\"30\" text-anchor=\"middle\" fill=\"#fff\">{}</text></svg>",
        super::markdown::escape(&initial.to_string())
    );
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        svg,
    )
        .into_response()
}
