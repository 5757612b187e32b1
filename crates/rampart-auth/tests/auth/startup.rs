//! `run` refuses a configuration it cannot be safe with, before it opens
//! anything.

use rampart_auth::Config;
use rampart_kit::CancellationToken;
use rampart_kit::api_key::{KeyKind, PlaintextApiKey};
use rampart_kit::pki::ServiceName;
use rampart_kit::secret::SecretString;
use rampart_kit::testing::TestPki;
use tokio::net::TcpListener;

use crate::helpers::KEY_HASH_SECRET;

async fn start(config: Config) -> anyhow::Error {
    let pki = TestPki::generate();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls = pki.load_service(ServiceName::Auth).unwrap();
    rampart_auth::run(config, listener, tls, CancellationToken::new())
        .await
        .unwrap_err()
}

fn config(secret: &str, admin: Option<&str>) -> Config {
    Config {
        // Nothing may be opened: an unreachable database shows it is not.
        database_url: "postgres://nobody@127.0.0.1:1/none".to_owned(),
        audit_url: "https://127.0.0.1:1".to_owned(),
        key_hash_secret: SecretString::from(secret),
        admin_api_key: admin.map(SecretString::from),
        revocations: rampart_kit::revocation::RevocationBus::in_process(),
        totp_encryption_key: SecretString::from("ab".repeat(32)),
        accounts: rampart_auth::AccountSettings::default(),
    }
}

#[tokio::test]
async fn a_short_key_hash_secret_is_refused() {
    let error = start(config("too-short", None)).await;
    let message = format!("{error:#}");
    assert!(message.contains("key_hash_secret"), "{message}");
    assert!(message.contains("32 bytes"), "{message}");
}

#[tokio::test]
async fn a_bootstrap_key_that_is_not_an_admin_key_is_refused() {
    let live = PlaintextApiKey::generate(KeyKind::Live);
    for bad in [live.expose(), "rk_admin_not-a-real-key"] {
        let error = start(config(KEY_HASH_SECRET, Some(bad))).await;
        let message = format!("{error:#}");
        assert!(message.contains("admin key"), "{message}");
        assert!(message.contains("generate"), "{message}");
        assert!(
            !message.contains(bad),
            "the key leaked into the error: {message}"
        );
    }
}

#[tokio::test]
async fn a_bad_totp_encryption_key_is_refused() {
    for bad in ["", "abcd", &"zz".repeat(32)] {
        let mut bad_config = config(KEY_HASH_SECRET, None);
        bad_config.totp_encryption_key = SecretString::from(bad.to_owned());
        let message = format!("{:#}", start(bad_config).await);
        assert!(message.contains("totp_encryption_key"), "{message}");
    }
}
