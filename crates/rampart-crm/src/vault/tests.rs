//! The vault against a real (in-memory SQLite) database with the CRM's
//! migrations applied.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sea_orm::{ConnectOptions, Database, TransactionTrait};

use super::*;

async fn database() -> DatabaseConnection {
    let mut options = ConnectOptions::new("sqlite::memory:");
    // One connection: every in-memory connection is its own database.
    options.max_connections(1).sqlx_logging(false);
    let db = Database::connect(options).await.unwrap();
    crate::migrate(&db).await.unwrap();
    db
}

fn keyring(entries: &[(u32, u8)]) -> Arc<dyn MasterKey> {
    let text = entries
        .iter()
        .map(|(version, byte)| format!("v{version}:{}", STANDARD.encode([*byte; KEY_LEN])))
        .collect::<Vec<_>>()
        .join(",");
    Arc::new(LocalMasterKeys::parse(&text).unwrap())
}

fn vault() -> Vault {
    Vault::new(keyring(&[(1, 1)]))
}

const NAME: Field<'static> = Field {
    table: "crm_customer",
    column: "name",
    row: "cus_1",
};

#[tokio::test]
async fn sealed_values_round_trip_and_hide_the_plaintext() {
    let db = database().await;
    let tenant = TenantId::generate();
    let key = vault().tenant(&db, &tenant).await.unwrap();
    let data_key = key.data_key(&db, "customer:1").await.unwrap();
    let sealed = data_key.seal(&NAME, "Zebulon Quaxley");
    assert_eq!(sealed[0], FORMAT_SEALED);
    assert!(!sealed.windows(7).any(|w| w == b"Zebulon"));
    assert_eq!(data_key.open(&NAME, &sealed).unwrap(), "Zebulon Quaxley");
    // Fresh nonces: the same value seals differently.
    assert_ne!(sealed, data_key.seal(&NAME, "Zebulon Quaxley"));
    assert_eq!(data_key.open(&NAME, &data_key.seal(&NAME, "")).unwrap(), "");
}

#[tokio::test]
async fn keys_are_stable_across_vaults_and_caches() {
    let db = database().await;
    let tenant = TenantId::generate();
    let sealed = vault()
        .tenant(&db, &tenant)
        .await
        .unwrap()
        .data_key(&db, "customer:1")
        .await
        .unwrap()
        .seal(&NAME, "value");
    // A new vault (a restart): no cache, everything read back and unwrapped.
    let again = vault()
        .tenant(&db, &tenant)
        .await
        .unwrap()
        .data_key(&db, "customer:1")
        .await
        .unwrap();
    assert_eq!(again.open(&NAME, &sealed).unwrap(), "value");
}

#[tokio::test]
async fn a_ciphertext_moved_elsewhere_does_not_open() {
    let db = database().await;
    let vault = vault();
    let tenant = TenantId::generate();
    let keys = vault.tenant(&db, &tenant).await.unwrap();
    let data_key = keys.data_key(&db, "customer:1").await.unwrap();
    let sealed = data_key.seal(&NAME, "secret");
    for elsewhere in [
        Field {
            row: "cus_2",
            ..NAME
        },
        Field {
            column: "email",
            ..NAME
        },
        Field {
            table: "crm_message",
            ..NAME
        },
    ] {
        assert!(data_key.open(&elsewhere, &sealed).is_err(), "{elsewhere:?}");
    }
    let other_owner = keys.data_key(&db, "customer:2").await.unwrap();
    assert!(other_owner.open(&NAME, &sealed).is_err());
    let other_tenant = vault
        .tenant(&db, &TenantId::generate())
        .await
        .unwrap()
        .data_key(&db, "customer:1")
        .await
        .unwrap();
    assert!(other_tenant.open(&NAME, &sealed).is_err());
}

#[tokio::test]
async fn every_changed_byte_is_refused() {
    let db = database().await;
    let data_key = vault()
        .tenant(&db, &TenantId::generate())
        .await
        .unwrap()
        .data_key(&db, "customer:1")
        .await
        .unwrap();
    let sealed = data_key.seal(&NAME, "secret");
    for at in 0..sealed.len() {
        let mut tampered = sealed.clone();
        tampered[at] ^= 0x01;
        assert!(data_key.open(&NAME, &tampered).is_err(), "byte {at}");
    }
    assert!(data_key.open(&NAME, &sealed[..sealed.len() - 1]).is_err());
    assert!(data_key.open(&NAME, &[]).is_err());
}

#[tokio::test]
async fn a_destroyed_data_key_shreds_its_ciphertexts() {
    let db = database().await;
    let vault = vault();
    let tenant = TenantId::generate();
    let keys = vault.tenant(&db, &tenant).await.unwrap();
    let sealed = keys
        .data_key(&db, "customer:1")
        .await
        .unwrap()
        .seal(&NAME, "secret");
    // Read once more so it is certainly cached.
    let cached = keys.data_key(&db, "customer:1").await.unwrap();
    assert_eq!(cached.open(&NAME, &sealed).unwrap(), "secret");
    let kept = keys
        .data_key(&db, "customer:2")
        .await
        .unwrap()
        .seal(&NAME, "kept");

    assert!(keys.destroy_data_key(&db, "customer:1").await.unwrap());
    assert!(!keys.destroy_data_key(&db, "customer:1").await.unwrap());

    // The same tenant keys object, and a fresh one from the same vault: the
    // owner gets a new key that does not open the old ciphertext.
    for keys in [keys.clone(), vault.tenant(&db, &tenant).await.unwrap()] {
        let recreated = keys.data_key(&db, "customer:1").await.unwrap();
        assert!(recreated.open(&NAME, &sealed).is_err());
    }
    let other = keys.data_key(&db, "customer:2").await.unwrap();
    assert_eq!(other.open(&NAME, &kept).unwrap(), "kept");
}

#[tokio::test]
async fn data_keys_created_in_a_rolled_back_transaction_leave_nothing() {
    let db = database().await;
    let vault = vault();
    let tenant = TenantId::generate();
    let keys = vault.tenant(&db, &tenant).await.unwrap();
    let txn = db.begin().await.unwrap();
    let first = keys.data_key(&txn, "customer:1").await.unwrap();
    // Read again inside the transaction (this read may be cached).
    let sealed = keys
        .data_key(&txn, "customer:1")
        .await
        .unwrap()
        .seal(&NAME, "x");
    assert_eq!(first.open(&NAME, &sealed).unwrap(), "x");
    txn.rollback().await.unwrap();
    assert_eq!(data_key::Entity::find().count(&db).await.unwrap(), 0);
}

#[tokio::test]
async fn a_tenant_key_whose_creation_rolled_back_is_not_used() {
    let db = database().await;
    let vault = vault();
    let tenant = TenantId::generate();
    let txn = db.begin().await.unwrap();
    vault.tenant(&txn, &tenant).await.unwrap();
    // The second read sees the uncommitted row and caches it.
    vault.tenant(&txn, &tenant).await.unwrap();
    txn.rollback().await.unwrap();

    let stale = vault.tenant(&db, &tenant).await.unwrap();
    assert!(stale.data_key(&db, "customer:1").await.is_err());
    // The refusal evicted the stale key: the next use creates the real one.
    let keys = vault.tenant(&db, &tenant).await.unwrap();
    let sealed = keys
        .data_key(&db, "customer:1")
        .await
        .unwrap()
        .seal(&NAME, "x");
    let restarted = Vault::new(keyring(&[(1, 1)]));
    let reopened = restarted
        .tenant(&db, &tenant)
        .await
        .unwrap()
        .data_key(&db, "customer:1")
        .await
        .unwrap();
    assert_eq!(reopened.open(&NAME, &sealed).unwrap(), "x");
}

#[tokio::test]
async fn blind_indexes_depend_on_tenant_field_and_value_only() {
    let db = database().await;
    let vault = vault();
    let tenant = TenantId::generate();
    let keys = vault.tenant(&db, &tenant).await.unwrap();
    let phone = keys.blind_index("crm_customer.phone", "+15550001111");
    assert_eq!(phone.len(), 64);
    assert!(phone.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(!phone.contains("5550001111"));
    let restarted = Vault::new(keyring(&[(1, 1)]));
    let again = restarted.tenant(&db, &tenant).await.unwrap();
    assert_eq!(
        again.blind_index("crm_customer.phone", "+15550001111"),
        phone
    );
    assert_ne!(
        keys.blind_index("crm_customer.email", "+15550001111"),
        phone
    );
    assert_ne!(
        keys.blind_index("crm_customer.phone", "+15550001112"),
        phone
    );
    let other = vault.tenant(&db, &TenantId::generate()).await.unwrap();
    assert_ne!(
        other.blind_index("crm_customer.phone", "+15550001111"),
        phone
    );
}

#[tokio::test]
async fn rotation_rewraps_and_the_old_master_key_can_go() {
    let db = database().await;
    let tenants = [
        TenantId::generate(),
        TenantId::generate(),
        TenantId::generate(),
    ];
    let old = Vault::new(keyring(&[(1, 1)]));
    let mut sealed = Vec::new();
    for tenant in &tenants {
        let keys = old.tenant(&db, tenant).await.unwrap();
        let value = keys.data_key(&db, "tenant").await.unwrap().seal(&NAME, "v");
        sealed.push((keys.blind_index("f", "x"), value));
    }

    let both = Vault::new(keyring(&[(1, 1), (2, 2)]));
    // A tenant created under the new version is already current.
    let newcomer = TenantId::generate();
    both.tenant(&db, &newcomer).await.unwrap();
    let rotation = both.rotate_master(&db).await.unwrap();
    assert_eq!(
        rotation,
        Rotation {
            rewrapped: 3,
            already_current: 1
        }
    );
    assert_eq!(
        both.rotate_master(&db).await.unwrap(),
        Rotation {
            rewrapped: 0,
            already_current: 4
        }
    );

    let only_new = Vault::new(keyring(&[(2, 2)]));
    for (tenant, (index, value)) in tenants.iter().zip(&sealed) {
        let keys = only_new.tenant(&db, tenant).await.unwrap();
        assert_eq!(&keys.blind_index("f", "x"), index);
        let data_key = keys.data_key(&db, "tenant").await.unwrap();
        assert_eq!(data_key.open(&NAME, value).unwrap(), "v");
    }
    // Without the rotation the old wraps would be unreadable to it.
    let unrotated = database().await;
    let tenant = TenantId::generate();
    old.tenant(&unrotated, &tenant).await.unwrap();
    assert!(only_new.tenant(&unrotated, &tenant).await.is_err());
}

#[tokio::test]
async fn the_baseline_is_the_identity_and_a_real_vault_refuses_its_output() {
    let db = database().await;
    let tenant = TenantId::generate();
    let baseline = Vault::unencrypted_baseline()
        .tenant(&db, &tenant)
        .await
        .unwrap();
    let plain = baseline.data_key(&db, "customer:1").await.unwrap();
    let sealed = plain.seal(&NAME, "visible");
    assert_eq!(&sealed[1..], b"visible");
    assert_eq!(plain.open(&NAME, &sealed).unwrap(), "visible");
    assert_eq!(tenant_key::Entity::find().count(&db).await.unwrap(), 0);

    let real = vault()
        .tenant(&db, &tenant)
        .await
        .unwrap()
        .data_key(&db, "customer:1")
        .await
        .unwrap();
    assert!(real.open(&NAME, &sealed).is_err());
    assert!(plain.open(&NAME, &real.seal(&NAME, "x")).is_err());
}

#[test]
fn data_key_ids_round_trip_through_hex() {
    let id = [0xab; DATA_KEY_ID_LEN];
    assert_eq!(unhex(&hex(&id)), Some(id));
    assert_eq!(unhex("zz"), None);
    assert_eq!(unhex(&"g".repeat(32)), None);
}
