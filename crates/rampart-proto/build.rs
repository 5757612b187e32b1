//! Compiles `proto/` with protox, a pure-Rust protobuf compiler, so building
//! Rampart needs no system `protoc`.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "rampart/auth/v1/auth.proto",
        "rampart/auth/v1/accounts.proto",
        "rampart/crm/v1/crm.proto",
        "rampart/escalation/v1/escalation.proto",
        "rampart/audit/v1/audit.proto",
    ];
    let descriptors = protox::compile(files, [&root])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    for file in files {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    Ok(())
}
