//! One tenant's conversations: starting one (idempotently, with its first
//! message), reading and listing them, their summary, and the status steps a
//! handoff takes them through.

use rampart_kit::ids::{ConversationId, CustomerId, HandoffId, MessageId, UserId};
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::Principal;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
};

use super::sealed::{self, conversation_owner};
use super::{CustomerStore, DataScope, Page, fingerprint, into_page, is_unique_violation, now};
use crate::Error;
use crate::domain::{
    Channel, ConversationStatus, IdempotencyKey, InvalidInput, MessageText, PageRequest, Summary,
    VisitorTokenHash,
};
use crate::entity::{conversation, customer, message, tenant};
use crate::vault::{DataKey, Vault};

/// The longest widget origin kept.
const MAX_ORIGIN_CHARS: usize = 300;

/// How many messages a conversation read returns at most: the newest ones.
pub const MAX_MESSAGES_READ: u64 = 500;

/// A conversation about to be started, parsed.
#[derive(Debug)]
pub struct NewConversation {
    pub channel: Channel,
    pub origin: String,
    pub customer_id: Option<CustomerId>,
    pub transcript_consent: bool,
    pub first_message: Option<MessageText>,
    pub idempotency_key: Option<IdempotencyKey>,
    /// The widget visitor's token hash, for widget callers.
    pub visitor_token: Option<VisitorTokenHash>,
}

impl NewConversation {
    /// Checks the origin, the one field the domain types do not cover.
    pub fn check_origin(origin: &str) -> Result<String, InvalidInput> {
        if origin.chars().count() > MAX_ORIGIN_CHARS {
            return Err(InvalidInput::new(
                "origin",
                "must be at most 300 characters",
            ));
        }
        if origin.chars().any(char::is_control) {
            return Err(InvalidInput::new(
                "origin",
                "must not contain control characters",
            ));
        }
        Ok(origin.to_owned())
    }

    fn fingerprint(&self) -> String {
        let consent = if self.transcript_consent { "1" } else { "0" };
        fingerprint(&[
            "start",
            self.channel.as_str(),
            &self.origin,
            self.customer_id.as_ref().map_or("", CustomerId::as_str),
            consent,
            self.first_message.as_ref().map_or("", MessageText::as_str),
        ])
    }
}

/// A started conversation, and its first message if it had one.
#[derive(Debug)]
pub struct Started {
    pub conversation: conversation::Model,
    pub first_message: Option<message::Model>,
    /// The same idempotency key started it earlier; nothing new was stored.
    pub replayed: bool,
}

/// What a conversation list is narrowed to.
#[derive(Debug, Default)]
pub struct ConversationFilter {
    pub status: Option<ConversationStatus>,
    pub channel: Option<Channel>,
    pub customer_id: Option<CustomerId>,
    pub assignee: Option<UserId>,
}

/// A tenant's conversations and their messages.
///
/// Message texts and summaries are stored sealed under the conversation's
/// data key (`conversation:<id>`, see [`crate::vault`]); the models this
/// store returns carry the opened values.
#[derive(Debug)]
pub struct ConversationStore<'a> {
    pub(super) db: &'a DatabaseConnection,
    pub(super) outbox: &'a Outbox,
    pub(super) vault: &'a Vault,
    pub(super) scope: DataScope,
}

impl<'a> ConversationStore<'a> {
    /// The store of one tenant's conversations in one data mode; the scope
    /// comes from the caller's principal.
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

    /// The data key of a conversation's texts, read (or created) through
    /// `db`.
    pub(super) async fn conversation_key(
        &self,
        db: &impl ConnectionTrait,
        conversation_id: &str,
    ) -> Result<DataKey, Error> {
        self.vault
            .tenant(db, &self.scope.tenant_id)
            .await?
            .data_key(db, &conversation_owner(conversation_id))
            .await
    }

    /// The data key of a conversation whose rows hold sealed texts; a
    /// conversation whose key is gone was erased (the rows are leftovers,
    /// from a restored backup say) and is not found.
    async fn sealed_conversation_key(
        &self,
        db: &impl ConnectionTrait,
        conversation_id: &str,
    ) -> Result<DataKey, Error> {
        self.vault
            .tenant(db, &self.scope.tenant_id)
            .await?
            .existing_data_key(db, &conversation_owner(conversation_id))
            .await?
            .ok_or(Error::ConversationNotFound)
    }

    /// A stored conversation with its summary opened.
    pub(super) async fn opened(
        &self,
        db: &impl ConnectionTrait,
        row: conversation::Model,
    ) -> Result<conversation::Model, Error> {
        if row.summary_sealed.is_none() {
            return Ok(row);
        }
        let key = self.sealed_conversation_key(db, &row.id).await?;
        sealed::open_conversation(&key, row)
    }

    /// A stored message with its text opened.
    pub(crate) async fn opened_message(
        &self,
        db: &impl ConnectionTrait,
        row: message::Model,
    ) -> Result<message::Model, Error> {
        if row.text_sealed.is_none() {
            return Ok(row);
        }
        let key = self
            .sealed_conversation_key(db, &row.conversation_id)
            .await?;
        sealed::open_message(&key, row)
    }

    /// Every conversation query starts here, already filtered by tenant and
    /// mode.
    pub(super) fn scoped(&self) -> sea_orm::Select<conversation::Entity> {
        conversation::Entity::find()
            .filter(conversation::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(conversation::Column::Mode.eq(self.scope.mode.as_str()))
    }

    /// The conversation with `id`, read through `db` (a transaction, or the
    /// pool), if it is this tenant's.
    pub(super) async fn find(
        &self,
        db: &impl ConnectionTrait,
        id: &str,
    ) -> Result<conversation::Model, Error> {
        let row = self
            .scoped()
            .filter(conversation::Column::Id.eq(id))
            .one(db)
            .await?
            .ok_or(Error::ConversationNotFound)?;
        self.opened(db, row).await
    }

    pub async fn get(&self, id: &ConversationId) -> Result<conversation::Model, Error> {
        self.find(self.db, id.as_str()).await
    }

    /// The conversation a stored row names (its id as stored).
    pub(crate) async fn find_by_text_id(&self, id: &str) -> Result<conversation::Model, Error> {
        self.find(self.db, id).await
    }

    /// The tenant's customer linked to a conversation.
    pub async fn customer(&self, id: &str) -> Result<Option<customer::Model>, Error> {
        let Ok(id) = CustomerId::parse(id) else {
            return Ok(None);
        };
        match CustomerStore::for_tenant(self.db, self.outbox, self.vault, self.scope.clone())
            .get(&id)
            .await
        {
            Ok(customer) => Ok(Some(customer)),
            Err(Error::CustomerNotFound) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Starts a conversation, with its first message (stored `pending`: the
    /// caller runs it through the gate next) and `conversation.started` (by
    /// id only: the message stays out of the log). A key seen before
    /// answers the conversation it started, if the request is the same.
    pub async fn start(&self, actor: &Principal, new: NewConversation) -> Result<Started, Error> {
        let fingerprint = new.fingerprint();
        if let Some(key) = &new.idempotency_key
            && let Some(started) = self.replay_start(key, &fingerprint).await?
        {
            return Ok(started);
        }
        if let Some(customer_id) = &new.customer_id {
            CustomerStore::for_tenant(self.db, self.outbox, self.vault, self.scope.clone())
                .get(customer_id)
                .await?;
        }

        let started_at = now();
        let row = conversation::Model {
            id: ConversationId::generate().into_string(),
            tenant_id: self.scope.tenant_id.as_str().to_owned(),
            mode: self.scope.mode.as_str().to_owned(),
            channel: new.channel.as_str().to_owned(),
            origin: new.origin,
            first_message: String::new(),
            started_at,
            status: ConversationStatus::AiActive.as_str().to_owned(),
            customer_id: new.customer_id.map(CustomerId::into_string),
            assignee: None,
            summary: String::new(),
            transcript_consent: new.transcript_consent,
            handoff_id: None,
            updated_at: started_at,
            visitor_token_hash: new.visitor_token.map(|hash| hash.as_str().to_owned()),
            idempotency_key: new.idempotency_key.as_ref().map(|k| k.as_str().to_owned()),
            idempotency_fingerprint: new.idempotency_key.as_ref().map(|_| fingerprint.clone()),
            summary_sealed: None,
        };
        let first_message = new.first_message.map(|text| message::Model {
            id: MessageId::generate().into_string(),
            tenant_id: row.tenant_id.clone(),
            mode: row.mode.clone(),
            conversation_id: row.id.clone(),
            author: "customer".to_owned(),
            author_id: None,
            text: text.into_string(),
            delivery: "received".to_owned(),
            gate: Some("pending".to_owned()),
            receipt: None,
            findings: "[]".to_owned(),
            idempotency_key: None,
            idempotency_fingerprint: None,
            created_at: started_at,
            text_sealed: None,
        });
        let event = AuditRecord::success(
            actor,
            Some(self.scope.tenant_id.as_str()),
            "conversation.started",
            format!("conversation:{}", row.id),
        )
        .with_detail("channel", row.channel.clone());

        let mut change = self.outbox.begin(self.db).await?;
        let inserted = conversation::Entity::insert(row.clone().into_active_model())
            .exec_without_returning(change.tx())
            .await;
        match inserted {
            Ok(_) => {}
            // Another request with the same key won the race: answer its
            // conversation, as for any retry.
            Err(error) if is_unique_violation(&error) => {
                drop(change);
                if let Some(key) = &new.idempotency_key
                    && let Some(started) = self.replay_start(key, &fingerprint).await?
                {
                    return Ok(started);
                }
                return Err(error.into());
            }
            Err(error) => return Err(error.into()),
        }
        if let Some(message) = &first_message {
            let key = self.conversation_key(change.tx(), &row.id).await?;
            let mut sealed_message = message.clone();
            sealed::seal_message(&key, &mut sealed_message);
            message::Entity::insert(sealed_message.into_active_model())
                .exec_without_returning(change.tx())
                .await?;
        }
        change.audit(event);
        change.commit().await?;
        Ok(Started {
            conversation: row,
            first_message,
            replayed: false,
        })
    }

    /// The conversation an earlier start with `key` made, if any; a
    /// conflict if that start was a different request.
    async fn replay_start(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
    ) -> Result<Option<Started>, Error> {
        let Some(existing) = self
            .scoped()
            .filter(conversation::Column::IdempotencyKey.eq(key.as_str()))
            .one(self.db)
            .await?
        else {
            return Ok(None);
        };
        if existing.idempotency_fingerprint.as_deref() != Some(fingerprint) {
            return Err(Error::IdempotencyConflict);
        }
        // The first message is the customer's, stored with the start's own
        // time; a start without one must not answer a later reply instead.
        let first_message = message::Entity::find()
            .filter(message::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(message::Column::Mode.eq(self.scope.mode.as_str()))
            .filter(message::Column::ConversationId.eq(existing.id.as_str()))
            .filter(message::Column::Author.eq("customer"))
            .filter(message::Column::CreatedAt.eq(existing.started_at))
            .order_by_asc(message::Column::Id)
            .one(self.db)
            .await?;
        let first_message = match first_message {
            Some(message) => Some(self.opened_message(self.db, message).await?),
            None => None,
        };
        let existing = self.opened(self.db, existing).await?;
        Ok(Some(Started {
            conversation: existing,
            first_message,
            replayed: true,
        }))
    }

    /// One page of the tenant's conversations, newest first.
    pub async fn list(
        &self,
        filter: &ConversationFilter,
        page: &PageRequest<ConversationId>,
    ) -> Result<Page<conversation::Model>, Error> {
        let mut query = self.scoped();
        if let Some(status) = filter.status {
            query = query.filter(conversation::Column::Status.eq(status.as_str()));
        }
        if let Some(channel) = filter.channel {
            query = query.filter(conversation::Column::Channel.eq(channel.as_str()));
        }
        if let Some(customer_id) = &filter.customer_id {
            query = query.filter(conversation::Column::CustomerId.eq(customer_id.as_str()));
        }
        if let Some(assignee) = &filter.assignee {
            query = query.filter(conversation::Column::Assignee.eq(assignee.as_str()));
        }
        // Ids are UUIDv7: descending id order is newest first, and the
        // cursor is the last id of the previous page.
        if let Some(after) = page.after() {
            query = query.filter(conversation::Column::Id.lt(after.as_str()));
        }
        let rows = query
            .order_by_desc(conversation::Column::Id)
            .limit(u64::from(page.size()) + 1)
            .all(self.db)
            .await?;
        let mut page = into_page(rows, page.size(), |row| &row.id);
        let mut opened = Vec::with_capacity(page.items.len());
        for row in page.items {
            opened.push(self.opened(self.db, row).await?);
        }
        page.items = opened;
        Ok(page)
    }

    /// The conversation's newest [`MAX_MESSAGES_READ`] messages, oldest
    /// first.
    pub async fn messages(&self, conversation_id: &str) -> Result<Vec<message::Model>, Error> {
        let mut rows = message::Entity::find()
            .filter(message::Column::TenantId.eq(self.scope.tenant_id.as_str()))
            .filter(message::Column::Mode.eq(self.scope.mode.as_str()))
            .filter(message::Column::ConversationId.eq(conversation_id))
            .order_by_desc(message::Column::Id)
            .limit(MAX_MESSAGES_READ)
            .all(self.db)
            .await?;
        rows.reverse();
        if rows.iter().all(|row| row.text_sealed.is_none()) {
            return Ok(rows);
        }
        let key = self
            .sealed_conversation_key(self.db, conversation_id)
            .await?;
        rows.into_iter()
            .map(|row| sealed::open_message(&key, row))
            .collect()
    }

    /// Replaces the summary. Not audited: a summary is working notes, and
    /// the log would hold nothing but "changed".
    pub async fn set_summary(
        &self,
        id: &ConversationId,
        summary: Summary,
    ) -> Result<conversation::Model, Error> {
        let existing = self.get(id).await?;
        let key = self.conversation_key(self.db, &existing.id).await?;
        let sealed = sealed::seal_summary(&key, &existing.id, &summary.into_string());
        let mut row = existing.into_active_model();
        row.summary = ActiveValue::Set(String::new());
        row.summary_sealed = ActiveValue::Set(sealed);
        row.updated_at = ActiveValue::Set(now());
        let updated = row.update(self.db).await?;
        sealed::open_conversation(&key, updated)
    }

    /// Moves a conversation one handoff step (see
    /// [`ConversationStatus::may_become`]) and records
    /// `conversation.status_changed`. Assigning names the agent; handing
    /// back to the AI clears the handoff. When it ends (resolved or closed)
    /// without a kept transcript, its message texts are blanked in the same
    /// transaction.
    pub async fn set_status(
        &self,
        actor: &Principal,
        id: &ConversationId,
        to: ConversationStatus,
        assignee: Option<UserId>,
        handoff_id: Option<HandoffId>,
    ) -> Result<conversation::Model, Error> {
        let mut change = self.outbox.begin(self.db).await?;
        let existing = self.find(change.tx(), id.as_str()).await?;
        let from = parse_status(&existing.status)?;
        if !from.may_become(to) {
            return Err(Error::TransitionRefused {
                from: from.as_str(),
                to: to.as_str(),
            });
        }
        let tenant = tenant::Entity::find_by_id(self.scope.tenant_id.as_str())
            .one(change.tx())
            .await?;
        let transcripts_enabled = tenant.is_some_and(|tenant| tenant.transcripts_enabled);
        let keep_transcript = transcripts_enabled && existing.transcript_consent;

        let mut row = existing.clone().into_active_model();
        row.status = ActiveValue::Set(to.as_str().to_owned());
        row.updated_at = ActiveValue::Set(now());
        match to {
            ConversationStatus::Assigned => {
                row.assignee = ActiveValue::Set(assignee.map(UserId::into_string));
                if let Some(handoff) = &handoff_id {
                    row.handoff_id = ActiveValue::Set(Some(handoff.as_str().to_owned()));
                }
            }
            ConversationStatus::AiActive => {
                row.assignee = ActiveValue::Set(None);
                row.handoff_id = ActiveValue::Set(None);
            }
            _ => {}
        }
        let updated = row.update(change.tx()).await?;
        let updated = self.opened(change.tx(), updated).await?;

        let ended = matches!(
            to,
            ConversationStatus::Resolved | ConversationStatus::Closed
        );
        if ended && !keep_transcript {
            message::Entity::update_many()
                .col_expr(message::Column::Text, Expr::value(""))
                .col_expr(message::Column::TextSealed, Expr::value(None::<Vec<u8>>))
                .filter(message::Column::TenantId.eq(self.scope.tenant_id.as_str()))
                .filter(message::Column::Mode.eq(self.scope.mode.as_str()))
                .filter(message::Column::ConversationId.eq(id.as_str()))
                .exec(change.tx())
                .await?;
        }

        let step_handoff = handoff_id
            .map(HandoffId::into_string)
            .or_else(|| existing.handoff_id.clone())
            .unwrap_or_default();
        change.audit(
            AuditRecord::success(
                actor,
                Some(self.scope.tenant_id.as_str()),
                "conversation.status_changed",
                format!("conversation:{}", existing.id),
            )
            .with_detail("from", from.as_str())
            .with_detail("to", to.as_str())
            .with_detail("handoff_id", step_handoff),
        );
        change.commit().await?;
        Ok(updated)
    }
}

/// A stored status; anything else is a corrupt row.
pub(super) fn parse_status(text: &str) -> Result<ConversationStatus, Error> {
    ConversationStatus::parse("status", text)
        .map_err(|_| Error::Internal(anyhow::anyhow!("unknown conversation status {text:?}")))
}
