//! Calendar sync's storage: the connection (tokens sealed under the
//! tenant's data key), the pending authorisations, the appointment-to-event
//! map and the sync outbox.
//!
//! A pending authorisation is found by the SHA-256 of its state and
//! deleted in the same transaction that reads it, so a state works once
//! even when two callbacks race; it expires after [`PENDING_LIFETIME`].
//! Connecting and disconnecting write their audit events through the outbox
//! in the transaction that writes or deletes the row.

use chrono::{DateTime, Utc};
use rampart_kit::ids::TenantId;
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::{DataMode, Principal};
use rampart_kit::secret::{ExposeSecret, SecretString};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter,
};

use super::oauth::{Authorisation, Tokens};
use crate::Error;
use crate::entity::{calendar_connection, calendar_event, calendar_pending, calendar_sync};
use crate::store::DataScope;
use crate::vault::{Field, Vault};

/// How long the owner has to come back from the provider.
pub const PENDING_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

/// The most authorisations one tenant may have in flight.
pub const MAX_PENDING: u64 = 10;

/// The data key tokens are sealed under: the tenant's own.
const DATA_KEY_OWNER: &str = "tenant";

/// The provider every connection is with, for now.
pub const PROVIDER: &str = "google";

fn now() -> DateTime<Utc> {
    chrono::SubsecRound::trunc_subsecs(Utc::now(), 6)
}

/// The SHA-256 (hex) of a state: what is stored and looked up.
#[must_use]
pub fn state_hash(state: &str) -> String {
    rampart_kit::secret::hex(ring::digest::digest(&ring::digest::SHA256, state.as_bytes()).as_ref())
}

fn connection_row(scope_tenant: &str, mode: &str) -> String {
    format!("{scope_tenant}:{mode}")
}

/// A pending authorisation, taken: who asked, for which calendar, and
/// the verifier that completes it.
pub struct Taken {
    pub row: calendar_pending::Model,
    pub scope: DataScope,
    pub verifier: SecretString,
}

/// A connection's tokens, opened.
pub struct OpenTokens {
    pub access_token: SecretString,
    pub refresh_token: SecretString,
}

/// What the connection's writes go through: the pool, the audit outbox
/// and the vault.
#[derive(Debug, Clone, Copy)]
pub struct Storage<'a> {
    pub db: &'a DatabaseConnection,
    pub outbox: &'a Outbox,
    pub vault: &'a Vault,
}

/// Records an authorisation in flight for `scope`, asked by `actor`;
/// false (nothing written) when the tenant has [`MAX_PENDING`] in flight
/// already.
pub async fn begin(
    storage: Storage<'_>,
    scope: &DataScope,
    actor: &Principal,
    calendar_id: &str,
    redirect_uri: &str,
    authorisation: &Authorisation,
) -> Result<bool, Error> {
    let Storage { db, outbox, vault } = storage;
    let change = outbox.begin(db).await?;
    let at = now();
    // This tenant's expired authorisations go first; every tenant's are
    // purged by the retention job ([`purge_expired_pending`]), not here.
    calendar_pending::Entity::delete_many()
        .filter(calendar_pending::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(calendar_pending::Column::ExpiresAt.lt(at))
        .exec(change.tx())
        .await?;
    let in_flight = calendar_pending::Entity::find()
        .filter(calendar_pending::Column::TenantId.eq(scope.tenant_id.as_str()))
        .count(change.tx())
        .await?;
    if in_flight >= MAX_PENDING {
        return Ok(false);
    }
    let hash = state_hash(authorisation.state.expose_secret());
    let key = vault
        .tenant(change.tx(), &scope.tenant_id)
        .await?
        .data_key(change.tx(), DATA_KEY_OWNER)
        .await?;
    let sealed = key.seal(
        &Field {
            table: "crm_calendar_pending",
            column: "verifier",
            row: &hash,
        },
        authorisation.verifier.expose_secret(),
    );
    let row = calendar_pending::Model {
        state_hash: hash,
        tenant_id: scope.tenant_id.as_str().to_owned(),
        mode: scope.mode.as_str().to_owned(),
        calendar_id: calendar_id.to_owned(),
        verifier: sealed,
        redirect_uri: redirect_uri.to_owned(),
        requested_by: actor.actor(),
        credential_id: actor.credential_id.clone(),
        expires_at: at + PENDING_LIFETIME,
        created_at: at,
    };
    calendar_pending::Entity::insert(row.into_active_model())
        .exec_without_returning(change.tx())
        .await?;
    change.commit().await?;
    Ok(true)
}

/// Deletes every tenant's authorisations that expired before `now`; the
/// number deleted. Run by the retention job.
pub async fn purge_expired_pending(
    db: &impl ConnectionTrait,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    Ok(calendar_pending::Entity::delete_many()
        .filter(calendar_pending::Column::ExpiresAt.lt(now))
        .exec(db)
        .await?
        .rows_affected)
}

/// Takes the authorisation `state` names: deleted as it is read, so only
/// one caller ever gets it. `None` for an unknown, used or expired state.
pub async fn take_pending(
    db: &DatabaseConnection,
    outbox: &Outbox,
    vault: &Vault,
    state: &str,
) -> Result<Option<Taken>, Error> {
    let hash = state_hash(state);
    let change = outbox.begin(db).await?;
    let Some(row) = calendar_pending::Entity::find_by_id(hash.clone())
        .one(change.tx())
        .await?
    else {
        return Ok(None);
    };
    let deleted = calendar_pending::Entity::delete_many()
        .filter(calendar_pending::Column::StateHash.eq(hash.as_str()))
        .exec(change.tx())
        .await?;
    change.commit().await?;
    if deleted.rows_affected != 1 || row.expires_at < Utc::now() {
        return Ok(None);
    }
    let scope = scope_of(&row.tenant_id, &row.mode)?;
    let key = vault
        .tenant(db, &scope.tenant_id)
        .await?
        .existing_data_key(db, DATA_KEY_OWNER)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("pending authorisation without a key")))?;
    let verifier = key.open(
        &Field {
            table: "crm_calendar_pending",
            column: "verifier",
            row: &hash,
        },
        &row.verifier,
    )?;
    Ok(Some(Taken {
        row,
        scope,
        verifier: SecretString::from(verifier),
    }))
}

fn scope_of(tenant_id: &str, mode: &str) -> Result<DataScope, Error> {
    Ok(DataScope {
        tenant_id: TenantId::parse(tenant_id)
            .map_err(|_| Error::Internal(anyhow::anyhow!("malformed tenant in a calendar row")))?,
        mode: DataMode::parse(mode)
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("unknown mode in a calendar row")))?,
    })
}

/// The scope of a stored row.
pub fn row_scope(tenant_id: &str, mode: &str) -> Result<DataScope, Error> {
    scope_of(tenant_id, mode)
}

/// Stores the connection (replacing any earlier one of the scope) with
/// its `calendar.connected` event, in one transaction.
pub async fn connect(
    storage: Storage<'_>,
    taken: &Taken,
    tokens: &Tokens,
    refresh_token: &SecretString,
    scope_granted: &str,
    event: AuditRecord,
) -> Result<(), Error> {
    let Storage { db, outbox, vault } = storage;
    let mut change = outbox.begin(db).await?;
    let tenant = taken.scope.tenant_id.as_str();
    let mode = taken.scope.mode.as_str();
    let key = vault
        .tenant(change.tx(), &taken.scope.tenant_id)
        .await?
        .data_key(change.tx(), DATA_KEY_OWNER)
        .await?;
    let row_id = connection_row(tenant, mode);
    let field = |column| Field {
        table: "crm_calendar_connection",
        column,
        row: &row_id,
    };
    let row = calendar_connection::Model {
        tenant_id: tenant.to_owned(),
        mode: mode.to_owned(),
        provider: PROVIDER.to_owned(),
        calendar_id: taken.row.calendar_id.clone(),
        access_token: key.seal(&field("access_token"), tokens.access_token.expose_secret()),
        refresh_token: key.seal(&field("refresh_token"), refresh_token.expose_secret()),
        expires_at: tokens.expires_at,
        scope: scope_granted.to_owned(),
        connected_by: taken.row.requested_by.clone(),
        connected_at: now(),
    };
    calendar_connection::Entity::delete_many()
        .filter(calendar_connection::Column::TenantId.eq(tenant))
        .filter(calendar_connection::Column::Mode.eq(mode))
        .exec(change.tx())
        .await?;
    // Events written to another calendar are not this one's.
    calendar_event::Entity::delete_many()
        .filter(calendar_event::Column::TenantId.eq(tenant))
        .filter(calendar_event::Column::Mode.eq(mode))
        .filter(calendar_event::Column::CalendarId.ne(taken.row.calendar_id.as_str()))
        .exec(change.tx())
        .await?;
    calendar_connection::Entity::insert(row.into_active_model())
        .exec_without_returning(change.tx())
        .await?;
    change.audit(event);
    change.commit().await?;
    Ok(())
}

/// The scope's connection, if any.
pub async fn connection(
    db: &impl ConnectionTrait,
    scope: &DataScope,
) -> Result<Option<calendar_connection::Model>, Error> {
    Ok(calendar_connection::Entity::find_by_id((
        scope.tenant_id.as_str().to_owned(),
        scope.mode.as_str().to_owned(),
    ))
    .one(db)
    .await?)
}

/// Opens a connection's tokens.
pub async fn open_tokens(
    db: &impl ConnectionTrait,
    vault: &Vault,
    row: &calendar_connection::Model,
) -> Result<OpenTokens, Error> {
    let scope = scope_of(&row.tenant_id, &row.mode)?;
    let key = vault
        .tenant(db, &scope.tenant_id)
        .await?
        .existing_data_key(db, DATA_KEY_OWNER)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("calendar connection without a key")))?;
    let row_id = connection_row(&row.tenant_id, &row.mode);
    let field = |column| Field {
        table: "crm_calendar_connection",
        column,
        row: &row_id,
    };
    Ok(OpenTokens {
        access_token: SecretString::from(key.open(&field("access_token"), &row.access_token)?),
        refresh_token: SecretString::from(key.open(&field("refresh_token"), &row.refresh_token)?),
    })
}

/// Stores refreshed tokens, if the connection is still the one they were
/// refreshed for.
pub async fn store_refreshed(
    db: &DatabaseConnection,
    outbox: &Outbox,
    vault: &Vault,
    row: &calendar_connection::Model,
    tokens: &Tokens,
) -> Result<(), Error> {
    let change = outbox.begin(db).await?;
    let scope = scope_of(&row.tenant_id, &row.mode)?;
    let key = vault
        .tenant(change.tx(), &scope.tenant_id)
        .await?
        .data_key(change.tx(), DATA_KEY_OWNER)
        .await?;
    let row_id = connection_row(&row.tenant_id, &row.mode);
    let field = |column| Field {
        table: "crm_calendar_connection",
        column,
        row: &row_id,
    };
    let mut update = calendar_connection::Entity::update_many()
        .col_expr(
            calendar_connection::Column::AccessToken,
            sea_orm::sea_query::Expr::value(
                key.seal(&field("access_token"), tokens.access_token.expose_secret()),
            ),
        )
        .col_expr(
            calendar_connection::Column::ExpiresAt,
            sea_orm::sea_query::Expr::value(tokens.expires_at),
        );
    if let Some(refresh) = &tokens.refresh_token {
        update = update.col_expr(
            calendar_connection::Column::RefreshToken,
            sea_orm::sea_query::Expr::value(
                key.seal(&field("refresh_token"), refresh.expose_secret()),
            ),
        );
    }
    update
        .filter(calendar_connection::Column::TenantId.eq(row.tenant_id.as_str()))
        .filter(calendar_connection::Column::Mode.eq(row.mode.as_str()))
        .filter(calendar_connection::Column::ConnectedAt.eq(row.connected_at))
        .exec(change.tx())
        .await?;
    change.commit().await?;
    Ok(())
}

/// Deletes the scope's connection, its event map and its pending sync
/// rows, with `event` (`calendar.disconnected`). False if there was none.
pub async fn disconnect(
    db: &DatabaseConnection,
    outbox: &Outbox,
    scope: &DataScope,
    event: AuditRecord,
) -> Result<bool, Error> {
    let mut change = outbox.begin(db).await?;
    let tenant = scope.tenant_id.as_str();
    let mode = scope.mode.as_str();
    let deleted = calendar_connection::Entity::delete_many()
        .filter(calendar_connection::Column::TenantId.eq(tenant))
        .filter(calendar_connection::Column::Mode.eq(mode))
        .exec(change.tx())
        .await?;
    if deleted.rows_affected == 0 {
        return Ok(false);
    }
    calendar_event::Entity::delete_many()
        .filter(calendar_event::Column::TenantId.eq(tenant))
        .filter(calendar_event::Column::Mode.eq(mode))
        .exec(change.tx())
        .await?;
    calendar_sync::Entity::delete_many()
        .filter(calendar_sync::Column::TenantId.eq(tenant))
        .filter(calendar_sync::Column::Mode.eq(mode))
        .exec(change.tx())
        .await?;
    change.audit(event);
    change.commit().await?;
    Ok(true)
}

/// Queues appointment `appointment_id` of `scope` for the calendar, in
/// `tx` (the appointment change's transaction), if the scope has a
/// connected calendar. Called by the appointment store on every create and
/// change.
pub async fn enqueue_sync(
    tx: &impl ConnectionTrait,
    scope: &DataScope,
    appointment_id: &str,
) -> Result<(), Error> {
    if connection(tx, scope).await?.is_none() {
        return Ok(());
    }
    let at = now();
    let row = calendar_sync::Model {
        id: uuid::Uuid::now_v7().to_string(),
        tenant_id: scope.tenant_id.as_str().to_owned(),
        mode: scope.mode.as_str().to_owned(),
        appointment_id: appointment_id.to_owned(),
        attempts: 0,
        next_attempt_at: at,
        lease_until: None,
        last_error: None,
        created_at: at,
    };
    calendar_sync::Entity::insert(row.into_active_model())
        .exec_without_returning(tx)
        .await?;
    Ok(())
}

/// How many sync rows of `scope` wait.
pub async fn pending_changes(db: &DatabaseConnection, scope: &DataScope) -> Result<u64, Error> {
    Ok(calendar_sync::Entity::find()
        .filter(calendar_sync::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(calendar_sync::Column::Mode.eq(scope.mode.as_str()))
        .count(db)
        .await?)
}
