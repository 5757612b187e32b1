//! What a stolen database shows, on both storage backends: personal data
//! written through the API is readable through the API (the positive
//! control) and nowhere in a dump of the storage (every file of the
//! embedded data folder, or `pg_dump` of the PostgreSQL database), in any
//! form it may take there (as typed, normalised, lower-cased, or hex as
//! PostgreSQL dumps binary columns). A value the dump must show (an
//! appointment's service type, not personal data) proves the dump saw this
//! run's writes.
//!
//! Then the database is tampered with, as someone with write access to it
//! but not to the keys would: a sealed value copied into another row of the
//! same column, into another tenant's row, and a row moved to another
//! tenant. Each read answers an error, never the other row's plaintext,
//! while the untouched rows still read.

use std::path::Path;

use rampart_e2e::on_both_backends;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::accounts::tenant_with_owner;
use crate::crm_roles::{Credential, Mode, Role, id_of, issue_key, staff_session};
use crate::harness::TestStack;

on_both_backends!(a_dump_holds_no_plaintext_and_moved_ciphertext_does_not_open);

/// The CRM's tables, straight from the database the stack runs on, as
/// someone with access to the storage (and not to the keys) sees them.
pub(crate) struct CrmDatabase {
    db: DatabaseConnection,
}

impl CrmDatabase {
    pub(crate) async fn open(stack: &TestStack) -> Self {
        let url = stack.database_url.clone().unwrap_or_else(|| {
            let data = rampart::dev_data::DataDir::open(&stack.data_dir).expect("data dir");
            rampart_kit::db::sqlite_url(&data.database("crm"))
        });
        Self {
            db: rampart_kit::db::connect(&url)
                .await
                .expect("the CRM database"),
        }
    }

    /// `sql` with its parameters written `$1`, `$2`, ... in order of use,
    /// as both backends take them (`?` on SQLite).
    fn statement(&self, sql: &str, values: &[&str]) -> Statement {
        let backend = self.db.get_database_backend();
        let mut sql = sql.to_owned();
        if backend == DatabaseBackend::Sqlite {
            for n in (1..=values.len()).rev() {
                sql = sql.replace(&format!("${n}"), "?");
            }
        }
        Statement::from_sql_and_values(backend, sql, values.iter().map(|v| (*v).into()))
    }

    /// Runs a change; the rows it touched.
    pub(crate) async fn execute(&self, sql: &str, values: &[&str]) -> u64 {
        self.db
            .execute_raw(self.statement(sql, values))
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"))
            .rows_affected()
    }

    /// A customer's legal hold as stored (`Null` when there is none): held,
    /// reason, who and when.
    pub(crate) async fn legal_hold(&self, customer_id: &str) -> Value {
        let row = self
            .db
            .query_one_raw(self.statement(
                "SELECT CAST(held AS TEXT) AS held, reason, changed_by, \
                 CAST(changed_at AS TEXT) AS changed_at \
                 FROM crm_legal_hold WHERE customer_id = $1",
                &[customer_id],
            ))
            .await
            .expect("legal hold query");
        let Some(row) = row else {
            return Value::Null;
        };
        let column = |name: &str| row.try_get::<String>("", name).expect(name);
        json!([
            column("held"),
            column("reason"),
            column("changed_by"),
            column("changed_at")
        ])
    }
}

/// Every byte the stack keeps: the files of its data folder (databases
/// with their `-wal` and `-shm` files, keys, certificates), and on
/// PostgreSQL a `pg_dump` of its database.
async fn dump(stack: &TestStack) -> Vec<u8> {
    let mut bytes = Vec::new();
    read_tree(&stack.data_dir, &mut bytes);
    if let Some(url) = &stack.database_url {
        let url = url.clone();
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new("pg_dump")
                .arg("--no-owner")
                .arg(url)
                .output()
        })
        .await
        .unwrap()
        .expect("pg_dump runs (it is on PATH where PostgreSQL is)");
        assert!(
            output.status.success(),
            "pg_dump: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!output.stdout.is_empty(), "pg_dump wrote nothing");
        bytes.extend_from_slice(&output.stdout);
    }
    bytes
}

fn read_tree(dir: &Path, into: &mut Vec<u8>) {
    for entry in std::fs::read_dir(dir).expect("read the data folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            read_tree(&path, into);
        } else if let Ok(bytes) = std::fs::read(&path) {
            // A file may vanish between listing and reading (a `-shm`
            // file at a checkpoint); what is there is read.
            into.extend_from_slice(&bytes);
            into.push(b'\n');
        }
    }
}

/// Lower-case hex, as `pg_dump` writes a `bytea` column.
fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// A token no other run or table has: letters first, so that no
/// normalisation turns it into digits.
fn token() -> String {
    format!("qz{}", &uuid::Uuid::new_v4().simple().to_string()[..14])
}

/// Random digits, `n` of them.
fn digits(n: usize) -> String {
    uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .take(n)
        .map(|b| char::from(b'0' + b % 10))
        .collect()
}

/// A value that must not be found in the dump, and every form it could
/// take there.
struct Secret {
    what: &'static str,
    forms: Vec<String>,
}

impl Secret {
    fn new(what: &'static str, forms: &[&str]) -> Self {
        Self {
            what,
            forms: forms.iter().map(|form| (*form).to_owned()).collect(),
        }
    }

    /// The forms found in `haystack` (lower-cased), as typed and as hex.
    fn found_in(&self, haystack: &[u8]) -> Vec<String> {
        self.forms
            .iter()
            .flat_map(|form| [form.to_lowercase(), hex(form)])
            .filter(|needle| contains(haystack, needle.as_bytes()))
            .collect()
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

async fn a_dump_holds_no_plaintext_and_moved_ciphertext_does_not_open(stack: &TestStack) {
    let (tenant, _, owner) = tenant_with_owner(stack, "Vault Heating").await;
    let key = issue_key(
        stack,
        &tenant.id,
        Mode::Live,
        &["read", "write", "settings", "owner"],
    )
    .await;
    let agent = staff_session(stack, &tenant, &owner, Role::Agent).await;

    // Distinctive values, random per run, each around a token of its own.
    let tokens: [String; 11] = std::array::from_fn(|_| token());
    let [
        name_token,
        email_token,
        address_token,
        note_token,
        equipment_token,
        customer_token,
        ai_token,
        agent_token,
        summary_token,
        credential_token,
        visible,
    ] = &tokens;
    let name = format!("Ottoline {name_token}");
    let phone_digits = format!("447700{}", digits(7));
    let phone = format!(
        "+{} {} {}",
        &phone_digits[..2],
        &phone_digits[2..6],
        &phone_digits[6..]
    );
    let email = format!("Ottoline.{email_token}@Quarry-{email_token}.Example");
    let email_normalised = format!("Ottoline.{email_token}@quarry-{email_token}.example");
    let address = format!("{address_token} Wharf Road, Salford");
    let note = format!("flue corroded behind the panel {note_token}");
    let equipment = format!("Vaillant ecoTEC {equipment_token}");
    let customer_says = format!("my radiator knocks at night {customer_token}");
    let ai_says = format!("Thanks, we can visit on Tuesday {ai_token}");
    let agent_says = format!("I have booked the engineer {agent_token}");
    let summary = format!("radiator knocking, visit booked {summary_token}");
    let credential = format!("sk_{credential_token}");
    // `visible` is not personal data and is stored as written (an
    // appointment's service type): the dump must show it.

    let customer = key
        .create(
            stack,
            "/v1/crm/customers",
            json!({ "name": name, "phone": phone, "email": email, "address": address }),
        )
        .await;
    let customer_id = id_of(&customer);
    let appointment = key
        .create(
            stack,
            "/v1/crm/appointments",
            json!({
                "customer_id": customer_id,
                "starts_at": "2031-06-01T09:00:00Z",
                "ends_at": "2031-06-01T10:00:00Z",
                "service_type": format!("radiator service {visible}"),
            }),
        )
        .await;
    let job_note = key
        .create(
            stack,
            "/v1/crm/job-notes",
            json!({ "appointment_id": id_of(&appointment), "text": note, "equipment": equipment }),
        )
        .await;
    let conversation = key
        .create(
            stack,
            "/v1/crm/conversations",
            json!({ "channel": "sms", "customer_id": customer_id }),
        )
        .await;
    let conversation_path = format!("/v1/crm/conversations/{}", id_of(&conversation));
    key.create(
        stack,
        &format!("{conversation_path}/ai-replies"),
        json!({ "text": ai_says }),
    )
    .await;
    key.create(
        stack,
        &format!("{conversation_path}/messages"),
        json!({ "text": customer_says }),
    )
    .await;
    agent
        .create(
            stack,
            &format!("{conversation_path}/agent-replies"),
            json!({ "text": agent_says }),
        )
        .await;
    let (status, body) = key
        .send(
            stack,
            Method::PUT,
            &format!("{conversation_path}/summary"),
            &json!({ "summary": summary }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    key.create(
        stack,
        "/v1/owner/channels",
        json!({
            "kind": "sms",
            "display_name": "Main line",
            "credentials": { "auth_token": credential },
        }),
    )
    .await;

    // The positive control: all of it reads back through the API.
    let read = key
        .get(stack, &format!("/v1/crm/customers/{customer_id}"))
        .await;
    assert_eq!(read["name"], name.as_str(), "{read}");
    assert_eq!(read["phone"], format!("+{phone_digits}").as_str(), "{read}");
    assert_eq!(read["email"], email_normalised.as_str(), "{read}");
    assert_eq!(read["address"], address.as_str(), "{read}");
    for query in [
        format!("phone={}", phone.replace('+', "%2B").replace(' ', "%20")),
        format!("email={email}"),
    ] {
        let found = key.get(stack, &format!("/v1/crm/customers?{query}")).await;
        assert_eq!(
            found["customers"][0]["id"],
            customer_id.as_str(),
            "{query}: {found}"
        );
        assert_eq!(found["customers"].as_array().unwrap().len(), 1, "{found}");
    }
    let read = key
        .get(stack, &format!("/v1/crm/job-notes/{}", id_of(&job_note)))
        .await;
    assert_eq!(read["text"], note.as_str(), "{read}");
    assert_eq!(read["equipment"], equipment.as_str(), "{read}");
    let read = key.get(stack, &conversation_path).await;
    assert_eq!(read["summary"], summary.as_str(), "{read}");
    let texts: Vec<&str> = read["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["text"].as_str().unwrap())
        .collect();
    for said in [&ai_says, &customer_says, &agent_says] {
        assert!(texts.contains(&said.as_str()), "{said} not in {read}");
    }
    let channels = key.get(stack, "/v1/owner/channels").await;
    assert_eq!(
        channels["channels"][0]["credentials_set"], true,
        "{channels}"
    );
    assert_eq!(
        channels["channels"][0]["credential_names"],
        json!(["auth_token"]),
        "{channels}"
    );
    assert!(!channels.to_string().contains(&credential), "{channels}");

    // The dump.
    let secrets = [
        Secret::new("name", &[&name, name_token]),
        Secret::new(
            "phone",
            &[&phone, &format!("+{phone_digits}"), &phone_digits],
        ),
        Secret::new("email", &[&email, &email_normalised, email_token]),
        Secret::new("address", &[&address, address_token]),
        Secret::new("job note", &[&note, note_token]),
        Secret::new("equipment", &[&equipment, equipment_token]),
        Secret::new("customer message", &[&customer_says, customer_token]),
        Secret::new("ai reply", &[&ai_says, ai_token]),
        Secret::new("agent reply", &[&agent_says, agent_token]),
        Secret::new("summary", &[&summary, summary_token]),
        Secret::new("channel credential", &[&credential, credential_token]),
    ];
    let haystack = dump(stack).await.to_ascii_lowercase();
    assert!(
        contains(&haystack, visible.as_bytes()),
        "the dump does not show this run's writes (an appointment's service type)"
    );
    let leaks: Vec<String> = secrets
        .iter()
        .flat_map(|secret| {
            secret
                .found_in(&haystack)
                .into_iter()
                .map(move |form| format!("{}: {form}", secret.what))
        })
        .collect();
    assert!(leaks.is_empty(), "plaintext in the dump: {leaks:?}");

    let planted = Planted {
        customer_id,
        name,
        email: email_normalised,
        job_note_id: id_of(&job_note),
        note,
        conversation_id: id_of(&conversation),
        agent_says,
    };
    moved_ciphertext_does_not_open(stack, &key, &planted).await;
}

/// What the dump test wrote, for the tampering that follows.
struct Planted {
    customer_id: String,
    name: String,
    email: String,
    job_note_id: String,
    note: String,
    conversation_id: String,
    agent_says: String,
}

/// Another customer of the tenant of `key`, with a name, phone and e-mail.
async fn another_customer(stack: &TestStack, key: &Credential, label: &str) -> String {
    let customer = key
        .create(
            stack,
            "/v1/crm/customers",
            json!({
                "name": format!("{label} {}", token()),
                "phone": format!("+44161{}", digits(6)),
                "email": format!("{}@{label}.example", token()),
            }),
        )
        .await;
    id_of(&customer)
}

/// Reads `path` and asserts an error answer that shows none of `plaintext`.
async fn refused_to_open(stack: &TestStack, key: &Credential, path: &str, plaintext: &str) {
    let (status, body) = key.send(stack, Method::GET, path, &Value::Null).await;
    assert!(
        !status.is_success(),
        "{path} answered {status} after its ciphertext was replaced: {body}"
    );
    assert!(
        !body.to_string().contains(plaintext),
        "{path} showed another row's data: {body}"
    );
}

async fn moved_ciphertext_does_not_open(stack: &TestStack, key: &Credential, planted: &Planted) {
    let database = CrmDatabase::open(stack).await;
    let other = stack.create_tenant("Other Boilers").await;
    let other_key = issue_key(stack, &other.id, Mode::Live, &["read", "write"]).await;
    let neighbour = another_customer(stack, key, "neighbour").await;
    let stranger = another_customer(stack, &other_key, "stranger").await;
    let moved = another_customer(stack, key, "moved").await;
    let customer_path = |id: &str| format!("/v1/crm/customers/{id}");
    let moved_name = key.get(stack, &customer_path(&moved)).await["name"]
        .as_str()
        .unwrap()
        .to_owned();
    let neighbour_note = key
        .create(
            stack,
            "/v1/crm/job-notes",
            json!({ "customer_id": neighbour, "text": "bled the radiators" }),
        )
        .await;
    let neighbour_note = id_of(&neighbour_note);
    let other_conversation = key
        .create(
            stack,
            "/v1/crm/conversations",
            json!({ "channel": "web", "text": "is anyone there" }),
        )
        .await;
    let other_conversation = id_of(&other_conversation);

    // The name, copied into another customer's row of the same tenant.
    let copy = "UPDATE crm_customer SET name_sealed = \
                (SELECT name_sealed FROM crm_customer WHERE id = $1) WHERE id = $2";
    let touched = database
        .execute(copy, &[&planted.customer_id, &neighbour])
        .await;
    assert_eq!(touched, 1);
    refused_to_open(stack, key, &customer_path(&neighbour), &planted.name).await;

    // The e-mail, copied into another tenant's customer.
    let copy = "UPDATE crm_customer SET email_sealed = \
                (SELECT email_sealed FROM crm_customer WHERE id = $1) WHERE id = $2";
    let touched = database
        .execute(copy, &[&planted.customer_id, &stranger])
        .await;
    assert_eq!(touched, 1);
    refused_to_open(stack, &other_key, &customer_path(&stranger), &planted.email).await;

    // A whole row moved to another tenant: its ciphertext is bound to the
    // tenant it was written in.
    let mv = "UPDATE crm_customer SET tenant_id = $1 WHERE id = $2";
    assert_eq!(database.execute(mv, &[&other.id, &moved]).await, 1);
    refused_to_open(stack, &other_key, &customer_path(&moved), &moved_name).await;

    // A job note's text into another customer's note.
    let copy = "UPDATE crm_job_note SET text = \
                (SELECT text FROM crm_job_note WHERE id = $1) WHERE id = $2";
    let touched = database
        .execute(copy, &[&planted.job_note_id, &neighbour_note])
        .await;
    assert_eq!(touched, 1);
    refused_to_open(
        stack,
        key,
        &format!("/v1/crm/job-notes/{neighbour_note}"),
        &planted.note,
    )
    .await;

    // A message's text into another conversation's message.
    let copy = "UPDATE crm_message SET text_sealed = \
                (SELECT text_sealed FROM crm_message WHERE conversation_id = $1 AND author = 'agent') \
                WHERE conversation_id = $2";
    let touched = database
        .execute(copy, &[&planted.conversation_id, &other_conversation])
        .await;
    assert_eq!(touched, 1);
    refused_to_open(
        stack,
        key,
        &format!("/v1/crm/conversations/{other_conversation}"),
        &planted.agent_says,
    )
    .await;

    // The rows nobody touched still open: the refusals were the
    // tampering's, not a broken vault's.
    let read = key.get(stack, &customer_path(&planted.customer_id)).await;
    assert_eq!(read["name"], planted.name.as_str(), "{read}");
    assert_eq!(read["email"], planted.email.as_str(), "{read}");
    let read = key
        .get(stack, &format!("/v1/crm/job-notes/{}", planted.job_note_id))
        .await;
    assert_eq!(read["text"], planted.note.as_str(), "{read}");
    let read = key
        .get(
            stack,
            &format!("/v1/crm/conversations/{}", planted.conversation_id),
        )
        .await;
    assert!(read.to_string().contains(&planted.agent_says), "{read}");
}
