//! The pages the gateway serves to browsers: the website widget's script
//! (`/widget.js`) and the console's files (`/console/...`).
//!
//! The files are built into the binary from `assets/` (`include_bytes!`):
//! no Node.js, no bundler and no files on disk at run time, so what runs is
//! exactly what was reviewed and compiled, and a release cannot serve a
//! stale or tampered copy. Each file's ETag is a SHA-256 of its bytes,
//! computed once on first use.
//!
//! Every answer carries a Content-Security-Policy with no `unsafe-inline`
//! and no `unsafe-eval` (scripts and styles come from files of this origin
//! only), refuses framing (`frame-ancestors 'none'`, `X-Frame-Options`),
//! sends no referrer and no sniffing. The REST pipeline sets its own,
//! stricter headers for JSON (`default-src 'none'`, `no-store`); the page
//! layer runs outside it and puts the page policy in their place, so a
//! page keeps the request id, metrics, method filter and timeout of every
//! other answer.
//!
//! `/widget.js` is loaded by businesses' sites from their own origins, so
//! it alone is `Cross-Origin-Resource-Policy: cross-origin`; it is a plain
//! script with no credentials (no cookie is set, none is read, and no
//! `Access-Control-Allow-Credentials` is ever sent). The console's files
//! are `same-origin`.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{Path, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

use crate::Gateway;
use crate::pipeline::edge_pipeline;
use crate::problem::ApiError;

/// The policy of every page answer: this origin's files only, no inline
/// script or style, no framing, no plugin, forms post here only.
pub const PAGE_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'; object-src 'none'";

const CROSS_ORIGIN_RESOURCE_POLICY: &str = "cross-origin-resource-policy";

/// The page routes, kept out of the OpenAPI document (they serve files).
pub const ROUTES: [&str; 4] = ["/widget.js", "/console", "/console/", "/console/{asset}"];

/// One file built into the binary.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

/// The widget's script, embedded in businesses' pages.
const WIDGET: Asset = Asset {
    name: "widget.js",
    content_type: "text/javascript; charset=utf-8",
    bytes: include_bytes!("../assets/widget.js"),
};

/// A console file: its name under `/console/` and in `assets/console/`.
macro_rules! console_asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("../assets/console/", $name)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The console: one page (`index.html`), its ES modules (one per area, no
/// bundler) and their styles. The first is the page itself.
const CONSOLE: [Asset; 18] = [
    console_asset!("index.html", HTML),
    console_asset!("console.js", JS),
    console_asset!("lib.js", JS),
    console_asset!("signin.js", JS),
    console_asset!("account.js", JS),
    console_asset!("queue.js", JS),
    console_asset!("conversation.js", JS),
    console_asset!("crm.js", JS),
    console_asset!("people.js", JS),
    console_asset!("keys.js", JS),
    console_asset!("policy.js", JS),
    console_asset!("tenants.js", JS),
    console_asset!("audit.js", JS),
    console_asset!("checklist.js", JS),
    console_asset!("console.css", CSS),
    console_asset!("work.css", CSS),
    console_asset!("admin.css", CSS),
    console_asset!("audit.css", CSS),
];

/// The Cache-Control a page handler chose, carried to [`page_headers`].
#[derive(Clone, Copy)]
struct CacheControl(&'static str);

/// How a file may be cached.
#[derive(Clone, Copy)]
enum Caching {
    /// The widget's script: shared caches may keep it briefly; sites load
    /// it on every page view, and a fix must reach them within minutes.
    Widget,
    /// The console: revalidated on every use (the ETag makes that cheap),
    /// so a new release shows at once.
    Console,
}

/// The page routes, each in the edge pipeline and then the page headers.
pub fn router(gateway: Arc<Gateway>) -> Router<Arc<Gateway>> {
    // Other methods answer the REST edge's 405 problem.
    let refuse = || async { ApiError::method_not_allowed() };
    Router::new()
        .route("/widget.js", get(widget_js).fallback(refuse))
        .route(
            "/console",
            get(|| async { Redirect::permanent("/console/") }).fallback(refuse),
        )
        .route("/console/", get(console_index).fallback(refuse))
        .route("/console/{asset}", get(console_asset).fallback(refuse))
        // Inner: the pipeline every answer goes through (request id,
        // metrics, timeout, the problem body of an error).
        .layer(middleware::from_fn_with_state(gateway, edge_pipeline))
        // Outer: runs after the pipeline has set the JSON headers, and puts
        // the page ones in their place.
        .layer(middleware::from_fn(page_headers))
}

async fn widget_js(headers: HeaderMap) -> Response {
    serve(&WIDGET, &headers, Caching::Widget)
}

async fn console_index(headers: HeaderMap) -> Response {
    serve_console(&CONSOLE[0], &headers)
}

async fn console_asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    match CONSOLE.iter().find(|asset| asset.name == name) {
        Some(asset) => serve_console(asset, &headers),
        None => ApiError::not_found().into_response(),
    }
}

/// Debug builds only: the folder to read the console's files from instead
/// of the copies built in, so that a change to a page shows on reload
/// without a rebuild. Only the files listed in [`CONSOLE`] are served from
/// it, and release builds do not have this at all.
#[cfg(debug_assertions)]
pub const DEV_CONSOLE_DIR: &str = "RAMPART_DEV_CONSOLE_DIR";

fn serve_console(asset: &Asset, request: &HeaderMap) -> Response {
    #[cfg(debug_assertions)]
    if let Some(dir) = std::env::var_os(DEV_CONSOLE_DIR) {
        let path = std::path::Path::new(&dir).join(asset.name);
        return match std::fs::read(&path) {
            Ok(bytes) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(asset.content_type),
                )],
                bytes,
            )
                .into_response(),
            Err(_) => ApiError::not_found().into_response(),
        };
    }
    serve(asset, request, Caching::Console)
}

/// The file, or 304 when the browser already holds this version.
fn serve(asset: &Asset, request: &HeaderMap, caching: Caching) -> Response {
    let etag = etag_of(asset);
    let cache_control = match caching {
        Caching::Widget => "public, max-age=300",
        Caching::Console => "no-cache",
    };
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            )],
            asset.bytes,
        )
            .into_response()
    };
    // The pipeline replaces Cache-Control on its way out; the page layer
    // reads the handler's choice from here.
    response
        .extensions_mut()
        .insert(CacheControl(cache_control));
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    if matches!(caching, Caching::Widget) {
        headers.insert(
            HeaderName::from_static(CROSS_ORIGIN_RESOURCE_POLICY),
            HeaderValue::from_static("cross-origin"),
        );
    }
    response
}

/// The quoted SHA-256 (hex) of the file, computed once per file.
fn etag_of(asset: &Asset) -> &'static str {
    static TAGS: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        std::iter::once(&WIDGET)
            .chain(CONSOLE.iter())
            .map(|asset| {
                let digest = ring::digest::digest(&ring::digest::SHA256, asset.bytes);
                let hex: String = digest
                    .as_ref()
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect();
                (asset.name, format!("\"{hex}\""))
            })
            .collect()
    });
    tags.iter()
        .find(|(name, _)| *name == asset.name)
        .map_or("\"\"", |(_, tag)| tag.as_str())
}

/// The page headers, over the pipeline's: the page CSP, and the cache and
/// cross-origin policies the handler chose (an error answer, which chose
/// none, is not cached and stays same-origin).
async fn page_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let cache_control = response
        .extensions()
        .get::<CacheControl>()
        .map_or("no-store", |chosen| chosen.0);
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !headers.contains_key(CROSS_ORIGIN_RESOURCE_POLICY) {
        headers.insert(
            HeaderName::from_static(CROSS_ORIGIN_RESOURCE_POLICY),
            HeaderValue::from_static("same-origin"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_has_its_own_etag() {
        let widget = etag_of(&WIDGET);
        assert!(widget.starts_with('"') && widget.len() == 66, "{widget}");
        for asset in &CONSOLE {
            assert_ne!(etag_of(asset), widget, "{}", asset.name);
        }
    }

    #[test]
    fn the_page_policy_allows_no_inline_code() {
        assert!(!PAGE_CSP.contains("unsafe-inline"));
        assert!(!PAGE_CSP.contains("unsafe-eval"));
        assert!(PAGE_CSP.contains("frame-ancestors 'none'"));
    }
}
