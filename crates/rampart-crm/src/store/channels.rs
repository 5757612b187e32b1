//! A tenant's channels (SMS, phone, e-mail, web, widget) and their
//! credentials.
//!
//! Credentials are write-only. They are sealed with the vault under the
//! tenant's data key (owner `"tenant"`), bound to this table, column and
//! row, before the row is written, so the database holds only ciphertext;
//! nothing here opens them (the senders that use a channel will, through the
//! vault). What is read back is their names. Deleting a channel deletes its
//! row, and with it the only copy of its sealed credentials.
//!
//! A `twilio` channel's number is unique across every tenant and mode (the
//! database's unique index decides, so two tenants racing for one number
//! cannot both win); a taken number is refused without saying whose.

use chrono::{DateTime, Utc};
use rampart_kit::ids::{ChannelId, TenantId};
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::DataMode;
use rampart_kit::principal::Principal;
use rampart_kit::secret::SecretString;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};

use super::is_unique_violation;
use super::{DataScope, now};
use crate::Error;
use crate::domain::{ChannelCredentials, ChannelKind, ChannelName, E164Number};
use crate::entity::channel;
use crate::vault::{Field, Vault};

/// The most channels one tenant may have in one mode: a bound on what a
/// list answers and a key can make the service store.
pub const MAX_CHANNELS: u64 = 50;

/// The data key credentials are sealed under: the tenant's own.
const DATA_KEY_OWNER: &str = "tenant";

/// A channel to connect, already parsed.
#[derive(Debug)]
pub struct NewChannel {
    pub kind: ChannelKind,
    pub display_name: ChannelName,
    pub credentials: Option<ChannelCredentials>,
    /// A `twilio` channel's number (see
    /// [`crate::domain::check_channel_setup`]).
    pub phone_number: Option<E164Number>,
}

/// A channel as it may be shown: never its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSummary {
    pub id: String,
    pub kind: String,
    pub display_name: String,
    pub credentials_set: bool,
    pub credential_names: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// A `twilio` channel's number.
    pub phone_number: Option<String>,
}

/// The channels of one tenant in one data mode.
#[derive(Debug)]
pub struct ChannelStore<'a> {
    db: &'a DatabaseConnection,
    outbox: &'a Outbox,
    vault: &'a Vault,
    scope: DataScope,
}

impl<'a> ChannelStore<'a> {
    /// The scope must come from the caller's principal.
    #[must_use]
    pub fn for_tenant(
        db: &'a DatabaseConnection,
        outbox: &'a Outbox,
        vault: &'a Vault,
        scope: DataScope,
    ) -> Self {
        Self {
            db,
            outbox,
            vault,
            scope,
        }
    }

    fn scoped(&self) -> sea_orm::Select<channel::Entity> {
        channel::Entity::find()
            .filter(channel::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(channel::Column::Mode.eq(self.scope.mode.as_str()))
    }

    /// Connects a channel: its credentials sealed, its row and its
    /// `channel.connected` event written in one transaction (the tenant's
    /// data key too, when this is its first use).
    pub async fn create(
        &self,
        actor: &Principal,
        new: NewChannel,
    ) -> Result<ChannelSummary, Error> {
        let mut change = self.outbox.begin(self.db).await?;
        let existing = self.scoped().count(change.tx()).await?;
        if existing >= MAX_CHANNELS {
            return Err(Error::TooManyChannels);
        }
        if let Some(number) = &new.phone_number {
            // Checked first for a clear answer; the unique index below
            // settles a race.
            let taken = channel::Entity::find()
                .filter(channel::Column::PhoneNumber.eq(number.as_str()))
                .count(change.tx())
                .await?;
            if taken > 0 {
                return Err(Error::PhoneNumberTaken);
            }
        }
        let id = ChannelId::generate().into_string();
        let credential_names = new
            .credentials
            .as_ref()
            .map(ChannelCredentials::names)
            .unwrap_or_default();
        let sealed = match &new.credentials {
            None => None,
            Some(credentials) => {
                let key = self
                    .vault
                    .tenant(change.tx(), &self.scope.tenant_id)
                    .await?
                    .data_key(change.tx(), DATA_KEY_OWNER)
                    .await?;
                let at = Field {
                    table: "crm_channel",
                    column: "credentials",
                    row: &id,
                };
                Some(key.seal(&at, &credentials.to_sealable_json()))
            }
        };
        let row = channel::Model {
            id,
            tenant_id: self.scope.tenant_id.as_str().to_owned(),
            mode: self.scope.mode.as_str().to_owned(),
            kind: new.kind.as_str().to_owned(),
            display_name: new.display_name.into_string(),
            credential_names: serde_json::to_string(&credential_names)
                .map_err(|e| Error::Internal(e.into()))?,
            credentials: sealed,
            created_at: now(),
            created_by: actor.actor(),
            phone_number: new.phone_number.map(E164Number::into_string),
        };
        match channel::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(change.tx())
            .await
        {
            Ok(_) => {}
            Err(error) if row.phone_number.is_some() && is_unique_violation(&error) => {
                return Err(Error::PhoneNumberTaken);
            }
            Err(error) => return Err(error.into()),
        }
        change.audit(
            AuditRecord::success(
                actor,
                Some(self.scope.tenant_id.as_str()),
                "channel.connected",
                format!("channel:{}", row.id),
            )
            .with_detail("channel_type", row.kind.clone()),
        );
        change.commit().await?;
        summary(row)
    }

    /// Every channel, oldest first (ids sort by creation).
    pub async fn list(&self) -> Result<Vec<ChannelSummary>, Error> {
        self.scoped()
            .order_by_asc(channel::Column::Id)
            .limit(MAX_CHANNELS)
            .all(self.db)
            .await?
            .into_iter()
            .map(summary)
            .collect()
    }

    /// Disconnects a channel: its row, sealed credentials and all, is
    /// deleted with its `channel.disconnected` event. Another tenant's or
    /// mode's channel is not found.
    pub async fn delete(&self, actor: &Principal, id: &ChannelId) -> Result<(), Error> {
        let mut change = self.outbox.begin(self.db).await?;
        let row = self
            .scoped()
            .filter(channel::Column::Id.eq(id.as_str()))
            .one(change.tx())
            .await?
            .ok_or(Error::ChannelNotFound)?;
        channel::Entity::delete_many()
            .filter(channel::Column::Id.eq(id.as_str()))
            .filter(channel::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(channel::Column::Mode.eq(self.scope.mode.as_str()))
            .exec(change.tx())
            .await?;
        change.audit(
            AuditRecord::success(
                actor,
                Some(self.scope.tenant_id.as_str()),
                "channel.disconnected",
                format!("channel:{}", row.id),
            )
            .with_detail("channel_type", row.kind),
        );
        change.commit().await?;
        Ok(())
    }
}

/// A `twilio` channel's account, opened: what verifying its webhooks and
/// sending through it need. Its `Debug` shows neither secret.
#[derive(Clone)]
pub struct TwilioAccount {
    pub channel_id: String,
    pub tenant_id: TenantId,
    pub mode: DataMode,
    /// The E.164 number the channel answers and sends from.
    pub phone_number: String,
    pub account_sid: String,
    pub auth_token: SecretString,
}

impl std::fmt::Debug for TwilioAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioAccount")
            .field("channel_id", &self.channel_id)
            .field("tenant_id", &self.tenant_id)
            .finish_non_exhaustive()
    }
}

/// The `twilio` channel that answers `phone_number` (E.164), whichever
/// tenant and mode it belongs to: the one cross-tenant read of channels,
/// for inbound webhooks, whose tenant is the called number's.
pub async fn find_twilio_channel(
    db: &impl ConnectionTrait,
    phone_number: &str,
) -> Result<Option<channel::Model>, Error> {
    Ok(channel::Entity::find()
        .filter(channel::Column::PhoneNumber.eq(phone_number))
        .filter(channel::Column::Kind.eq("twilio"))
        .one(db)
        .await?)
}

/// Opens the account of `row`, a `twilio` channel: its sealed credentials
/// must hold `account_sid` and `auth_token`.
pub async fn twilio_account(
    db: &impl ConnectionTrait,
    vault: &Vault,
    row: &channel::Model,
) -> Result<TwilioAccount, Error> {
    let broken =
        |what: &str| Error::Internal(anyhow::anyhow!("twilio channel {} has {what}", row.id));
    let tenant_id = TenantId::parse(&row.tenant_id).map_err(|_| broken("a malformed tenant"))?;
    let mode = DataMode::parse(&row.mode).ok_or_else(|| broken("an unknown mode"))?;
    let phone_number = row
        .phone_number
        .clone()
        .ok_or_else(|| broken("no number"))?;
    let sealed = row
        .credentials
        .as_ref()
        .ok_or_else(|| broken("no credentials"))?;
    let key = vault
        .tenant(db, &tenant_id)
        .await?
        .existing_data_key(db, DATA_KEY_OWNER)
        .await?
        .ok_or_else(|| broken("no data key"))?;
    let at = Field {
        table: "crm_channel",
        column: "credentials",
        row: &row.id,
    };
    let json = zeroize::Zeroizing::new(key.open(&at, sealed)?);
    let mut values: std::collections::BTreeMap<String, String> =
        serde_json::from_str(&json).map_err(|_| broken("credentials that are not an object"))?;
    let account_sid = values
        .remove("account_sid")
        .ok_or_else(|| broken("no account_sid"))?;
    let auth_token = values
        .remove("auth_token")
        .ok_or_else(|| broken("no auth_token"))?;
    Ok(TwilioAccount {
        channel_id: row.id.clone(),
        tenant_id,
        mode,
        phone_number,
        account_sid,
        auth_token: SecretString::from(auth_token),
    })
}

fn summary(row: channel::Model) -> Result<ChannelSummary, Error> {
    let credential_names: Vec<String> =
        serde_json::from_str(&row.credential_names).map_err(|e| {
            Error::Internal(anyhow::Error::new(e).context(format!(
                "credential_names of channel {} is not a JSON array of strings",
                row.id
            )))
        })?;
    Ok(ChannelSummary {
        id: row.id,
        kind: row.kind,
        display_name: row.display_name,
        credentials_set: row.credentials.is_some(),
        credential_names,
        created_at: row.created_at,
        phone_number: row.phone_number,
    })
}
