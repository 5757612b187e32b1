//! Compiles `proto/` with protox, a pure-Rust protobuf compiler, so building
//! Rampart needs no system `protoc`.

use std::path::PathBuf;

/// Keep in step with `src/redacted.rs`, whose test names each of these.
const SECRET_MESSAGES: [&str; 17] = [
    "rampart.auth.v1.SignInRequest",
    "rampart.auth.v1.SignInResponse",
    "rampart.auth.v1.SessionGrant",
    "rampart.auth.v1.SecondFactorChallenge",
    "rampart.auth.v1.CompleteSecondFactorRequest",
    "rampart.auth.v1.EnrolForChallengeRequest",
    "rampart.auth.v1.TotpEnrolment",
    "rampart.auth.v1.VerifySessionRequest",
    "rampart.auth.v1.ChangePasswordRequest",
    "rampart.auth.v1.ConfirmTotpRequest",
    "rampart.auth.v1.ConfirmTotpResponse",
    "rampart.auth.v1.CreateUserRequest",
    "rampart.auth.v1.VerifyApiKeyRequest",
    "rampart.auth.v1.IssueApiKeyResponse",
    "rampart.crm.v1.CreateChannelRequest",
    "rampart.crm.v1.BeginConnectResponse",
    "rampart.crm.v1.CompleteConnectRequest",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let files = [
        "rampart/auth/v1/auth.proto",
        "rampart/auth/v1/accounts.proto",
        "rampart/crm/v1/crm.proto",
        "rampart/crm/v1/schedule.proto",
        "rampart/crm/v1/owner.proto",
        "rampart/escalation/v1/escalation.proto",
        "rampart/audit/v1/audit.proto",
        "rampart/crm/v1/billing.proto",
        "rampart/crm/v1/telephony.proto",
        "rampart/crm/v1/calendar.proto",
    ];
    let descriptors = protox::compile(files, [&root])?;
    tonic_prost_build::configure()
        // Messages that carry a secret get a hand-written `Debug` that
        // redacts it (src/redacted.rs), so a logged request shows no
        // password, code, token or key.
        .skip_debug(SECRET_MESSAGES.iter().map(|name| format!(".{name}")))
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    for file in files {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
    }
    Ok(())
}
