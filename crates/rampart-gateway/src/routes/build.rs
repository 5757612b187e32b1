//! `GET /v1/admin/build`: what this gateway process runs, for
//! `rampart incident verify` to compare with the release's published
//! checksum: the version and the SHA-256 of the executable file.
//!
//! The file is hashed once, on the first request, off the async workers,
//! and remembered. It is the file the process was started from as it is on
//! disk now, so a binary replaced under a running process shows here.

use std::sync::{Arc, OnceLock};

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use crate::Gateway;
use crate::authn::AdminCaller;
use crate::problem::ApiError;

/// The running build.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BuildInfo {
    /// The release version.
    #[schema(example = "0.1.0")]
    version: &'static str,
    /// The SHA-256 of the executable file, in hex.
    binary_sha256: String,
}

/// `GET /v1/admin/build`
#[utoipa::path(
    get,
    path = "/v1/admin/build",
    tag = "admin",
    responses(
        (status = 200, description = "The running version and the SHA-256 of its executable", body = BuildInfo),
    ),
    security(("admin_api_key" = [])),
)]
pub async fn build(
    State(_gateway): State<Arc<Gateway>>,
    _caller: AdminCaller,
) -> Result<Json<BuildInfo>, ApiError> {
    static HASH: OnceLock<String> = OnceLock::new();
    let binary_sha256 = match HASH.get() {
        Some(hash) => hash.clone(),
        None => {
            let hash = tokio::task::spawn_blocking(executable_sha256)
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
            HASH.get_or_init(|| hash).clone()
        }
    };
    Ok(Json(BuildInfo {
        version: env!("CARGO_PKG_VERSION"),
        binary_sha256,
    }))
}

/// The SHA-256 of this process's executable file.
pub fn executable_sha256() -> std::io::Result<String> {
    let path = std::env::current_exe()?;
    let mut file = std::fs::File::open(path)?;
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buffer = vec![0; 1 << 16];
    loop {
        let read = std::io::Read::read(&mut file, &mut buffer)?;
        if read == 0 {
            break;
        }
        context.update(&buffer[..read]);
    }
    Ok(rampart_kit::secret::hex(context.finish().as_ref()))
}
