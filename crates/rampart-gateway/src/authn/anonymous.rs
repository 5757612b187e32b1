//! A caller without a credential yet: the sign-in steps.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;

use super::request::{client_ip, limit_address, request_id};
use crate::Gateway;
use crate::problem::ApiError;

/// The connection facts an anonymous step passes on to auth.
pub struct Anonymous {
    /// The client's address, as auth records it.
    pub client: String,
    request_id: String,
}

impl FromRequestParts<Arc<Gateway>> for Anonymous {
    type Rejection = ApiError;

    /// The address's rate limit comes first, as for any credential.
    async fn from_request_parts(
        parts: &mut Parts,
        gateway: &Arc<Gateway>,
    ) -> Result<Self, ApiError> {
        limit_address(parts, gateway).await?;
        Ok(Self {
            client: client_ip(parts),
            request_id: request_id(parts),
        })
    }
}

impl Anonymous {
    /// A gRPC request carrying this request's id, and no principal.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        if let Ok(value) = self.request_id.parse() {
            request
                .metadata_mut()
                .insert(rampart_kit::principal::REQUEST_ID, value);
        }
        request
    }
}
