//! The console's pages: `console/dist` (built by Vite from `console/`),
//! embedded in the binary at compile time so `angzarr dev` serves them with
//! no extra step. `console/dist` is committed; `console/run-tests` fails
//! when it is not what the sources build.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};

static DIST: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/../console/dist");

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// `/ui`: the page.
pub(super) async fn index() -> Response {
    serve("index.html")
}

/// `/ui/{path}`: an asset (hashed names: cached for long), else the page
/// (the pages route by `#`, so any other path is the page too).
pub(super) async fn file(Path(path): Path<String>) -> Response {
    if DIST.get_file(&path).is_some() { serve(&path) } else { serve("index.html") }
}

fn serve(path: &str) -> Response {
    match DIST.get_file(path) {
        Some(f) => {
            let cache = if path == "index.html" { "no-cache" } else { "public, max-age=31536000, immutable" };
            ([(header::CONTENT_TYPE, content_type(path)), (header::CACHE_CONTROL, cache)], f.contents()).into_response()
        }
        None => (StatusCode::NOT_FOUND, "the console is not in this build (console/dist is empty)").into_response(),
    }
}
