//! The CRM's storage layer: the only code that reads or writes its tables.
//!
//! - [`TenantStore`]: tenants, platform-wide (its callers are platform
//!   admins).
//! - [`CustomerStore`]: one tenant's customers. It is built for a tenant
//!   ([`CustomerStore::for_tenant`]) and every query it makes filters by that
//!   tenant, so a handler cannot forget the scope: there is no way to ask it
//!   for another tenant's customer, and such an id is simply not found.
//!
//! - [`ConversationStore`]: one tenant's conversations and their messages,
//!   scoped the same way; `conversations` starts, lists and moves them,
//!   `messages` writes what customers, the AI and agents say, with the
//!   gate's decisions. [`pending_gates`] is the one cross-tenant read: the
//!   gate retry's scan for messages escalation never decided.
//!
//! - [`AppointmentStore`] and [`JobNoteStore`]: one tenant's schedule, scoped
//!   the same way; job notes are sealed before they are stored.
//! - [`SettingsStore`], [`RetentionStore`], [`LegalHoldStore`],
//!   [`ChannelStore`]: the owner's configuration of one tenant in
//!   one data mode, scoped the same way; channel credentials are sealed
//!   with the vault. [`is_held`] answers whether a
//!   customer is under a legal hold, for erasure and retention deletion.
//! - [`purge_customer`] and [`purge_conversation`]: deletion for good
//!   (data keys destroyed first, then rows), shared by erasure and the
//!   retention job; [`count_customer_data`] is erasure's preview.
//! - [`ErasureStore`]: one tenant's erasure requests, executed with a
//!   signed deletion certificate; [`open_erasure_request`] also opens one
//!   from a privacy handoff, inside the message's transaction.
//! - [`BillingStore`]: tenants' billing states and their audited moves,
//!   platform-wide, with the billing webhook's applied events.
//! - [`count_activity`]: a manager's report, counted by the database;
//!   [`ExportReader`]: the owner's bulk export, read page by page, with
//!   [`record_export`] its audit record.
//!
//! Creating a row also records its audit event in the outbox, in the same
//! transaction: the event exists if and only if the row does. The relay is
//! woken after the commit.

mod appointments;
mod billing;
mod channels;
mod conversations;
mod erasure;
mod export;
mod job_notes;
mod legal_hold;
mod messages;
mod purge;
mod reports;
mod retention;
mod sealed;
mod settings;
mod sms_opt_out;
mod sms_threads;
mod tenant_deletion;

pub use appointments::{AppointmentChange, AppointmentFilter, AppointmentStore, NewAppointment};
pub use job_notes::{JobNote, JobNoteFilter, JobNoteStore, NewJobNote, NoteSubject};

pub use billing::{BillingRecord, BillingStore, Transition, TransitionRequest};
pub use channels::{
    ChannelStore, ChannelSummary, MAX_CHANNELS, NewChannel, TwilioAccount, find_twilio_channel,
    twilio_account,
};
pub use conversations::{
    ConversationFilter, ConversationStore, MAX_MESSAGES_READ, NewConversation, Started,
};
pub use erasure::{ERASURE_METHOD, ErasureStore, ErasureView, open_erasure_request};
pub use legal_hold::{Hold, LegalHoldStore, is_held};
pub use messages::{
    GateVerdict, NewReply, OpenedHandoff, Posted, PreparedPost, check_ai_may_reply, pending_gates,
    post_fingerprint,
};
pub use purge::{Purged, count_customer_data, purge_conversation, purge_customer};
pub use purge::{call_owner, purge_tenant_telephony};
pub use retention::{RetentionStore, StoredRetention};
pub use sealed::{LegacyConversion, conversation_owner, customer_owner, seal_legacy_rows};
pub use settings::{SettingsStore, SettingsVersion};
pub use sms_opt_out::{OptChoice, OptOutLedger, opted_out_in};
pub use sms_threads::{SmsRecipient, SmsThreadStore};

pub use export::{EXPORT_PAGE, ExportCounts, ExportReader, record_export};
pub use reports::{ActivityCounts, count_activity};

use chrono::{DateTime, SubsecRound, Utc};
use rampart_kit::ids::{CustomerId, TenantId};
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::{DataMode, Principal};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect,
};

use crate::Error;
use crate::domain::{Address, CustomerName, Email, OfficeDomain, PageRequest, Phone, TenantName};
use crate::entity::{customer, tenant};
use crate::vault::Vault;

/// Whose data a store sees: one tenant's, in one data mode. Built from the
/// caller's principal ([`DataScope::of`]), never from a request body; every
/// query of a tenant's store filters by both, so a test key's rows and a
/// live key's rows never meet, and another tenant's id is simply not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataScope {
    pub tenant_id: TenantId,
    pub mode: DataMode,
}

impl DataScope {
    /// The scope a tenant principal acts in; PermissionDenied for anyone
    /// else.
    pub fn of(principal: &Principal) -> Result<Self, tonic::Status> {
        Ok(Self {
            tenant_id: principal.require_tenant()?.clone(),
            mode: principal.mode,
        })
    }

    /// A tenant's live data.
    #[must_use]
    pub fn live(tenant_id: TenantId) -> Self {
        Self {
            tenant_id,
            mode: DataMode::Live,
        }
    }
}

/// A tenant to create, already parsed.
#[derive(Debug)]
pub struct NewTenant {
    pub name: TenantName,
    /// Without duplicates.
    pub office_domains: Vec<OfficeDomain>,
}

/// A customer to create, already parsed.
#[derive(Debug)]
pub struct NewCustomer {
    pub name: CustomerName,
    pub phone: Option<Phone>,
    pub email: Option<Email>,
    pub address: Option<Address>,
}

/// What a customer list is narrowed to: exact matches, through the blind
/// indexes (the values are already normalised by their parsers).
#[derive(Debug, Default)]
pub struct CustomerFilter {
    pub phone: Option<Phone>,
    pub email: Option<Email>,
}

/// A change to a customer (PATCH): `None` leaves a field unchanged;
/// `Some(None)` clears an optional one. The name cannot be cleared.
#[derive(Debug, Default)]
pub struct CustomerPatch {
    pub name: Option<CustomerName>,
    pub phone: Option<Option<Phone>>,
    pub email: Option<Option<Email>>,
    pub address: Option<Option<Address>>,
}

impl CustomerPatch {
    /// The names of the fields this patch sets, for the audit event.
    #[must_use]
    pub fn field_names(&self) -> Vec<&'static str> {
        [
            ("name", self.name.is_some()),
            ("phone", self.phone.is_some()),
            ("email", self.email.is_some()),
            ("address", self.address.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

/// One page of a list, and the cursor for the next (none on the last page).
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// Cuts the `size + 1` rows a list query fetched down to a page: the extra
/// row only tells that another page exists, without a second count query.
fn into_page<T>(mut rows: Vec<T>, size: u32, id: impl Fn(&T) -> &str) -> Page<T> {
    let size = size as usize;
    let next_cursor = if rows.len() > size {
        rows.truncate(size);
        rows.last().map(|row| id(row).to_owned())
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}

/// The current time at the precision PostgreSQL keeps (microseconds), so a
/// value returned at creation equals the one read back later on either
/// backend.
fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A request's fingerprint for idempotency: SHA-256 (hex) of its parts,
/// JSON-encoded so that no two different lists of parts read the same.
fn fingerprint(parts: &[&str]) -> String {
    let encoded = serde_json::to_string(parts).unwrap_or_default();
    rampart_kit::secret::hex(
        ring::digest::digest(&ring::digest::SHA256, encoded.as_bytes()).as_ref(),
    )
}

/// Whether an insert failed on a unique index: here, always an idempotency
/// key another request stored first.
fn is_unique_violation(error: &sea_orm::DbErr) -> bool {
    matches!(
        error.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Inserts `row` and records `event` in the outbox in one transaction, so
/// the event exists if and only if the row does; the relay is woken after
/// the commit.
async fn insert_with_event<E: EntityTrait>(
    db: &DatabaseConnection,
    outbox: &Outbox,
    row: E::ActiveModel,
    event: AuditRecord,
) -> Result<(), Error> {
    let mut change = outbox.begin(db).await?;
    E::insert(row).exec_without_returning(change.tx()).await?;
    change.audit(event);
    change.commit().await?;
    Ok(())
}

/// Tenants, across the whole platform.
#[derive(Debug)]
pub struct TenantStore<'a> {
    db: &'a DatabaseConnection,
    outbox: &'a Outbox,
}

impl<'a> TenantStore<'a> {
    #[must_use]
    pub fn new(db: &'a DatabaseConnection, outbox: &'a Outbox) -> Self {
        Self { db, outbox }
    }

    /// Stores a new tenant and its `tenant.created` event (in the new
    /// tenant's own audit log), on behalf of `actor`.
    pub async fn create(&self, actor: &Principal, new: NewTenant) -> Result<tenant::Model, Error> {
        let domains: Vec<&str> = new
            .office_domains
            .iter()
            .map(OfficeDomain::as_str)
            .collect();
        let office_domains =
            serde_json::to_string(&domains).map_err(|e| Error::Internal(e.into()))?;
        let row = tenant::Model {
            id: TenantId::generate().into_string(),
            name: new.name.into_string(),
            office_domains,
            created_at: now(),
            transcripts_enabled: false,
        };
        let event = AuditRecord::success(
            actor,
            Some(&row.id),
            "tenant.created",
            format!("tenant:{}", row.id),
        );

        insert_with_event::<tenant::Entity>(
            self.db,
            self.outbox,
            row.clone().into_active_model(),
            event,
        )
        .await?;
        Ok(row)
    }

    pub async fn get(&self, id: &TenantId) -> Result<tenant::Model, Error> {
        tenant::Entity::find_by_id(id.as_str())
            .one(self.db)
            .await?
            .ok_or(Error::TenantNotFound)
    }

    pub async fn list(&self, page: &PageRequest<TenantId>) -> Result<Page<tenant::Model>, Error> {
        let mut query = tenant::Entity::find();
        if let Some(after) = page.after() {
            query = query.filter(tenant::Column::Id.gt(after.as_str()));
        }
        let rows = query
            .order_by_asc(tenant::Column::Id)
            .limit(u64::from(page.size()) + 1)
            .all(self.db)
            .await?;
        Ok(into_page(rows, page.size(), |row| &row.id))
    }
}

/// The customers of one tenant, and only those.
///
/// Names, phones, e-mails and addresses are stored sealed under the
/// customer's data key (`customer:<id>`, see [`crate::vault`]); the models
/// this store returns carry the opened values.
#[derive(Debug)]
pub struct CustomerStore<'a> {
    db: &'a DatabaseConnection,
    outbox: &'a Outbox,
    vault: &'a Vault,
    scope: DataScope,
}

impl<'a> CustomerStore<'a> {
    /// The store of one tenant's customers in one data mode. The scope must
    /// come from the caller's principal, never from the request body.
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

    /// Every query of this store starts here, already filtered by tenant
    /// and mode.
    fn scoped(&self) -> sea_orm::Select<customer::Entity> {
        customer::Entity::find()
            .filter(customer::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(customer::Column::Mode.eq(self.scope.mode.as_str()))
    }

    /// Stores a new customer, sealed under its new data key, and its
    /// `customer.created` event (in the tenant's audit log), on behalf of
    /// `actor`, all in one transaction. The event names the customer by id
    /// only: names and contact details stay out of the log.
    pub async fn create(
        &self,
        actor: &Principal,
        new: NewCustomer,
    ) -> Result<customer::Model, Error> {
        let opened = customer::Model {
            id: CustomerId::generate().into_string(),
            tenant_id: self.scope.tenant_id.as_str().to_owned(),
            mode: self.scope.mode.as_str().to_owned(),
            name: new.name.into_string(),
            phone: new.phone.map(Phone::into_string),
            email: new.email.map(Email::into_string),
            address: new.address.map(Address::into_string),
            created_at: now(),
            name_sealed: None,
            phone_sealed: None,
            email_sealed: None,
            address_sealed: None,
            phone_index: None,
            email_index: None,
        };
        let event = AuditRecord::success(
            actor,
            Some(self.scope.tenant_id.as_str()),
            "customer.created",
            format!("customer:{}", opened.id),
        );

        let mut change = self.outbox.begin(self.db).await?;
        let keys = self
            .vault
            .tenant(change.tx(), &self.scope.tenant_id)
            .await?;
        // A new id: its key is new too (one statement, no lookup).
        let key = keys
            .new_data_key(change.tx(), &sealed::customer_owner(&opened.id))
            .await?;
        let mut row = opened.clone();
        sealed::seal_customer(&keys, &key, &mut row);
        customer::Entity::insert(row.into_active_model())
            .exec_without_returning(change.tx())
            .await?;
        change.audit(event);
        change.commit().await?;
        Ok(opened)
    }

    /// The customer with `id`, if it belongs to this store's tenant.
    pub async fn get(&self, id: &CustomerId) -> Result<customer::Model, Error> {
        let row = self
            .scoped()
            .filter(customer::Column::Id.eq(id.as_str()))
            .one(self.db)
            .await?
            .ok_or(Error::CustomerNotFound)?;
        self.open(row).await?.ok_or(Error::CustomerNotFound)
    }

    /// One page of the tenant's customers, in id order, narrowed by
    /// `filter`.
    pub async fn list(
        &self,
        filter: &CustomerFilter,
        page: &PageRequest<CustomerId>,
    ) -> Result<Page<customer::Model>, Error> {
        let mut query = self.scoped();
        if filter.phone.is_some() || filter.email.is_some() {
            let keys = self.vault.tenant(self.db, &self.scope.tenant_id).await?;
            if let Some(phone) = &filter.phone {
                let index = keys.blind_index(sealed::PHONE_INDEX, phone.as_str());
                query = query.filter(customer::Column::PhoneIndex.eq(index));
            }
            if let Some(email) = &filter.email {
                let index = keys.blind_index(sealed::EMAIL_INDEX, email.as_str());
                query = query.filter(customer::Column::EmailIndex.eq(index));
            }
        }
        if let Some(after) = page.after() {
            query = query.filter(customer::Column::Id.gt(after.as_str()));
        }
        let rows = query
            .order_by_asc(customer::Column::Id)
            .limit(u64::from(page.size()) + 1)
            .all(self.db)
            .await?;
        let mut page = into_page(rows, page.size(), |row| &row.id);
        let mut opened = Vec::with_capacity(page.items.len());
        for row in page.items {
            // An erased customer's leftover row is not listed.
            opened.extend(self.open(row).await?);
        }
        page.items = opened;
        Ok(page)
    }

    /// Applies `patch` and records `customer.updated` with the names of the
    /// fields it set (never their values), in one transaction.
    pub async fn update(
        &self,
        actor: &Principal,
        id: &CustomerId,
        patch: CustomerPatch,
    ) -> Result<customer::Model, Error> {
        let fields = patch.field_names();
        let mut change = self.outbox.begin(self.db).await?;
        let row = self
            .scoped()
            .filter(customer::Column::Id.eq(id.as_str()))
            .one(change.tx())
            .await?
            .ok_or(Error::CustomerNotFound)?;
        let keys = self
            .vault
            .tenant(change.tx(), &self.scope.tenant_id)
            .await?;
        let key = keys
            .existing_data_key(change.tx(), &sealed::customer_owner(&row.id))
            .await?
            .ok_or(Error::CustomerNotFound)?;
        let mut opened = sealed::open_customer(&key, row.clone())?;
        if let Some(name) = patch.name {
            opened.name = name.into_string();
        }
        if let Some(phone) = patch.phone {
            opened.phone = phone.map(Phone::into_string);
        }
        if let Some(email) = patch.email {
            opened.email = email.map(Email::into_string);
        }
        if let Some(address) = patch.address {
            opened.address = address.map(Address::into_string);
        }
        let mut sealed_row = opened.clone();
        sealed::seal_customer(&keys, &key, &mut sealed_row);
        let mut active = row.into_active_model();
        active.name = ActiveValue::Set(String::new());
        active.phone = ActiveValue::Set(None);
        active.email = ActiveValue::Set(None);
        active.address = ActiveValue::Set(None);
        active.name_sealed = ActiveValue::Set(sealed_row.name_sealed);
        active.phone_sealed = ActiveValue::Set(sealed_row.phone_sealed);
        active.email_sealed = ActiveValue::Set(sealed_row.email_sealed);
        active.address_sealed = ActiveValue::Set(sealed_row.address_sealed);
        active.phone_index = ActiveValue::Set(sealed_row.phone_index);
        active.email_index = ActiveValue::Set(sealed_row.email_index);
        active.update(change.tx()).await?;
        change.audit(
            AuditRecord::success(
                actor,
                Some(self.scope.tenant_id.as_str()),
                "customer.updated",
                format!("customer:{}", opened.id),
            )
            .with_detail("fields", fields.join(",")),
        );
        change.commit().await?;
        Ok(opened)
    }

    /// Opens a stored row under its customer's data key; `None` when that
    /// key is gone: the customer was erased, and the row is a leftover (a
    /// restored backup, say) that no one can read any more.
    async fn open(&self, row: customer::Model) -> Result<Option<customer::Model>, Error> {
        let keys = self.vault.tenant(self.db, &self.scope.tenant_id).await?;
        let Some(key) = keys
            .existing_data_key(self.db, &sealed::customer_owner(&row.id))
            .await?
        else {
            return Ok(None);
        };
        sealed::open_customer(&key, row).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_result_is_the_last_page() {
        let page = into_page(vec!["a", "b"], 3, |s| s);
        assert_eq!(page.items, ["a", "b"]);
        assert_eq!(page.next_cursor, None);
    }

    #[test]
    fn an_exactly_full_result_is_the_last_page() {
        let page = into_page(vec!["a", "b", "c"], 3, |s| s);
        assert_eq!(page.items.len(), 3);
        assert_eq!(page.next_cursor, None);
    }

    #[test]
    fn the_extra_row_is_dropped_and_the_cursor_is_the_last_kept_id() {
        let page = into_page(vec!["a", "b", "c", "d"], 3, |s| s);
        assert_eq!(page.items, ["a", "b", "c"]);
        assert_eq!(page.next_cursor.as_deref(), Some("c"));
    }

    /// Tenant scoping, straight at the store: whatever id or cursor a
    /// tenant's store is handed, it answers only from that tenant's rows.
    #[tokio::test]
    async fn a_tenant_store_sees_only_its_tenants_customers() {
        let database = rampart_kit::testing::TestDatabase::sqlite();
        let db = rampart_kit::db::connect(&database.url).await.unwrap();
        crate::migrate(&db).await.unwrap();
        let outbox = Outbox::new(crate::OUTBOX_TABLE);
        let vault = Vault::unencrypted_baseline();
        let admin = rampart_kit::testing::admin_principal();
        let tenants = TenantStore::new(&db, &outbox);
        let mut ids = Vec::new();
        for name in ["Alpha", "Beta"] {
            let new = NewTenant {
                name: TenantName::parse(name).unwrap(),
                office_domains: Vec::new(),
            };
            ids.push(TenantId::parse(&tenants.create(&admin, new).await.unwrap().id).unwrap());
        }
        let (alpha, beta) = (ids[0].clone(), ids[1].clone());
        let alpha_store =
            CustomerStore::for_tenant(&db, &outbox, &vault, DataScope::live(alpha.clone()));
        let beta_store =
            CustomerStore::for_tenant(&db, &outbox, &vault, DataScope::live(beta.clone()));
        let new_customer = |name: &str| NewCustomer {
            name: CustomerName::parse(name).unwrap(),
            phone: None,
            email: None,
            address: None,
        };
        let actor = rampart_kit::testing::tenant_principal(&alpha);
        let alpha_customer = alpha_store
            .create(&actor, new_customer("Ann"))
            .await
            .unwrap();
        let actor = rampart_kit::testing::tenant_principal(&beta);
        let beta_customer = beta_store
            .create(&actor, new_customer("Ben"))
            .await
            .unwrap();

        let alpha_id = CustomerId::parse(&alpha_customer.id).unwrap();
        let beta_id = CustomerId::parse(&beta_customer.id).unwrap();
        assert_eq!(
            alpha_store.get(&alpha_id).await.unwrap().id,
            alpha_customer.id
        );
        assert!(matches!(
            alpha_store.get(&beta_id).await,
            Err(Error::CustomerNotFound)
        ));
        assert!(matches!(
            beta_store.get(&alpha_id).await,
            Err(Error::CustomerNotFound)
        ));

        // A cursor that sorts before every row still lists only the tenant's.
        let first_page = PageRequest::parse(100, "", CustomerId::parse).unwrap();
        let listed = beta_store
            .list(&CustomerFilter::default(), &first_page)
            .await
            .unwrap();
        assert_eq!(listed.items.len(), 1);
        assert_eq!(listed.items[0].id, beta_customer.id);
        let early = PageRequest::parse(100, &alpha_customer.id, CustomerId::parse).unwrap();
        let listed = beta_store
            .list(&CustomerFilter::default(), &early)
            .await
            .unwrap();
        assert!(listed.items.iter().all(|c| c.tenant_id == beta.as_str()));
    }
}
