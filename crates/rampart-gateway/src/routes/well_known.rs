//! `/.well-known/security.txt` (RFC 9116): how to report a vulnerability.
//! The text is built and checked from the settings at start-up
//! (`Config::security_txt`); without it the path answers 404.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

use crate::Gateway;
use crate::problem::ApiError;

/// `GET /.well-known/security.txt`
#[utoipa::path(
    get,
    path = "/.well-known/security.txt",
    tag = "meta",
    responses(
        (status = 200, description = "The security contact (RFC 9116)", body = String, content_type = "text/plain; charset=utf-8"),
        (status = 404, description = "No security contact is configured"),
    ),
)]
pub async fn security_txt(State(gateway): State<Arc<Gateway>>) -> Response {
    match &gateway.config.security_txt {
        Some(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )],
            text.clone(),
        )
            .into_response(),
        None => ApiError::not_found().into_response(),
    }
}
