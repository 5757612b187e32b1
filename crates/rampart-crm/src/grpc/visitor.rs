//! What a website visitor reads of their own conversation, through the
//! widget: `ListVisitorMessages`.
//!
//! A widget key is public (any page can copy it), so the key alone reads
//! nothing: the caller must also present the visitor token the start
//! answered, which only that visitor's browser holds. A wrong token, an
//! unknown id and another tenant's conversation answer the same NOT_FOUND,
//! so the route tells nobody which conversations exist. The answer holds
//! the texts as delivered and who wrote them, never the gate's receipts,
//! the guardrails' findings or the agent's user id: those are the
//! business's working details.

use rampart_kit::ids::ConversationId;
use rampart_kit::principal::{Principal, Scope};
use rampart_proto::crm::v1 as proto;
use tonic::{Request, Status};

use super::CrmApi;
use crate::Error;
use crate::domain::VisitorTokenHash;
use crate::entity::message;
use crate::store::DataScope;

/// Only a widget key (scope `widget`, no `write`, no signed-in user) reads
/// as a visitor; everyone else reads conversations through
/// `GetConversation`.
fn require_widget_caller(principal: &Principal) -> Result<(), Status> {
    let holds = |scope: &str| principal.scopes.iter().any(|held| held == scope);
    if principal.user.is_none() && holds("widget") && !holds(Scope::Write.as_str()) {
        return Ok(());
    }
    Err(Status::permission_denied(
        "visitor messages are read with a widget key and the visitor token",
    ))
}

/// What the visitor sees of a message; `None` for what the visitor never
/// saw (a blocked reply, a system note).
fn visible(row: message::Model) -> Option<proto::VisitorMessage> {
    let shown =
        matches!(row.author.as_str(), "customer" | "ai" | "agent") && row.delivery != "blocked";
    shown.then(|| proto::VisitorMessage {
        id: row.id,
        author: row.author,
        text: row.text,
        created_at: row
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    })
}

impl CrmApi {
    pub(super) async fn visitor_messages(
        &self,
        request: Request<proto::ListVisitorMessagesRequest>,
    ) -> Result<proto::ListVisitorMessagesResponse, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        require_widget_caller(&principal)?;
        let request = request.into_inner();
        let id = ConversationId::parse(&request.conversation_id)
            .map_err(|_| Error::ConversationNotFound)?;
        let store = self.conversations(&scope);
        let conversation = store.get(&id).await?;
        // Hashed whatever it is (empty included): an absent or wrong token
        // matches nothing, exactly like an unknown conversation.
        let presented = VisitorTokenHash::of(&request.visitor_token);
        let matches = conversation
            .visitor_token_hash
            .as_ref()
            .is_some_and(|stored| VisitorTokenHash::stored(stored.clone()).matches(&presented));
        if !matches {
            return Err(Error::ConversationNotFound.into());
        }
        let rows = store.messages(id.as_str()).await?;
        // Message ids sort by creation, and `after` must be one of this
        // conversation's: an id the visitor never got reads from the
        // oldest message kept.
        let start = if request.after.is_empty() {
            0
        } else {
            rows.iter()
                .position(|row| row.id == request.after)
                .map_or(0, |index| index + 1)
        };
        Ok(proto::ListVisitorMessagesResponse {
            status: conversation.status,
            messages: rows.into_iter().skip(start).filter_map(visible).collect(),
        })
    }
}
