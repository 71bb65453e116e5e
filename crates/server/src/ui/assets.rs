//! Static assets, embedded in the binary: the stylesheet, htmx (vendored from the npm
//! package `htmx.org`, see `static/README.md`), the passkey script and the icon. Pages link them with
//! `?v=<content hash>`, so they can be cached for a year and still change with a release.

use axum::extract::{Path, Query};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::OnceLock;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "skjold.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../static/skjold.css"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/htmx.min.js"),
    },
    Asset {
        name: "passkeys.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/passkeys.js"),
    },
    Asset {
        name: "notices.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../static/notices.js"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../static/icon.svg"),
    },
];

/// A short hash of every asset: changes whenever one does.
pub fn version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut h = Sha256::new();
        for a in ASSETS {
            h.update(a.name.as_bytes());
            h.update(a.body);
        }
        hex::encode(&h.finalize()[..6])
    })
}

pub async fn serve(Path(name): Path<String>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == name) else {
        return super::error::error_page(
            StatusCode::NOT_FOUND,
            "Page not found",
            "There is no such file.",
        );
    };
    // Only a link with the current version may be cached for good.
    let cache = if q.get("v").map(String::as_str) == Some(version()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        asset.body,
    )
        .into_response()
}
