//! An inbound text: an opt-out keyword, or a customer's message.
//!
//! A keyword (see [`rampart_telephony::opt_out`]) changes the tenant's
//! ledger and is answered in the TwiML itself: STOP with one final
//! confirmation (a second STOP gets nothing: the number asked not to be
//! texted), START with a confirmation, HELP with the tenant's help text. A
//! keyword never reaches a conversation.
//!
//! Anything else is a customer's message and takes the same path as one
//! posted through the API: the customer is matched by the number's blind
//! index (linked only when exactly one customer has it), the number's open
//! SMS conversation on this channel gets it (or a new `sms` conversation
//! starts with it), and the gate decides it, handing a risky text to a
//! person. The TwiML answer is empty: replies leave through the outbound
//! outbox, which checks the ledger first.

use rampart_kit::ids::{ConversationId, CustomerId};
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::Principal;
use rampart_telephony::opt_out::{self, Keyword};
use rampart_telephony::twiml;
use sea_orm::EntityTrait;

use super::{TelephonyApi, Verified, receipts};
use crate::Error;
use crate::domain::{Channel, IdempotencyKey, InvalidInput, MessageText, PageRequest, Phone};
use crate::entity::sms_thread;
use crate::gate;
use crate::store::{
    ConversationStore, CustomerFilter, CustomerStore, NewConversation, OptChoice, OptOutLedger,
    PreparedPost, SettingsStore, SmsThreadStore,
};

/// What STOP answers, once.
pub const OPTED_OUT_REPLY: &str = "You have been unsubscribed and will receive no more messages from this number. Reply START to resubscribe.";
/// What START answers.
pub const OPTED_IN_REPLY: &str =
    "You have been resubscribed to messages from this number. Reply STOP to unsubscribe.";
/// The text stored for a message that carried no text (a picture alone).
const NO_TEXT: &str = "(a message without text)";

/// Handles a verified SMS webhook; answers its TwiML.
pub(super) async fn handle(
    api: &TelephonyApi,
    webhook_principal: &Principal,
    verified: &Verified,
) -> Result<String, Error> {
    let sid = verified
        .param("MessageSid")
        .or_else(|| verified.param("SmsSid"))
        .ok_or_else(|| InvalidInput::new("MessageSid", "is required"))?;
    let key = receipts::key("sms", &[sid])?;
    if receipts::seen(&api.db, &verified.scope, &key).await? {
        return Err(Error::WebhookReplayed);
    }
    let from = Phone::parse(verified.param("From").unwrap_or_default())
        .map_err(|_| InvalidInput::new("From", "must be a phone number"))?;
    let body = verified.param("Body").unwrap_or_default();
    // The tenant's own system principal, in the channel's mode, carrying
    // the webhook's request id and address so this delivery's audit events
    // and logs tie to the gateway's.
    let mut principal = Principal::system(verified.scope.tenant_id.clone(), ServiceName::Crm)
        .in_mode(verified.scope.mode);
    principal
        .request_id
        .clone_from(&webhook_principal.request_id);
    principal
        .client_addr
        .clone_from(&webhook_principal.client_addr);

    let twiml = match opt_out::classify(body) {
        Some(keyword) => answer_keyword(api, &principal, verified, &from, keyword, body).await?,
        None => {
            customer_message(api, &principal, verified, &from, body, sid).await?;
            twiml::Response::new().to_xml()
        }
    };
    receipts::record(&api.db, &verified.scope, &key).await?;
    Ok(twiml)
}

/// The keyword as the audit event names it: its letters, upper case.
fn keyword_name(body: &str) -> String {
    body.chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

async fn answer_keyword(
    api: &TelephonyApi,
    principal: &Principal,
    verified: &Verified,
    from: &Phone,
    keyword: Keyword,
    body: &str,
) -> Result<String, Error> {
    let ledger = OptOutLedger::for_tenant(&api.db, &api.outbox, &api.vault, verified.scope.clone());
    let channel_id = &verified.account.channel_id;
    let name = keyword_name(body);
    let reply = match keyword {
        Keyword::OptOut => {
            let changed = ledger
                .record(principal, from, OptChoice::OptOut, &name, channel_id)
                .await?;
            tracing::info!(channel_id = %channel_id, changed, "sms number opted out");
            // One confirmation only: an opted-out number is not texted
            // again, not even to say it already was.
            changed.then_some(OPTED_OUT_REPLY.to_owned())
        }
        Keyword::OptIn => {
            let changed = ledger
                .record(principal, from, OptChoice::OptIn, &name, channel_id)
                .await?;
            tracing::info!(channel_id = %channel_id, changed, "sms number opted in");
            Some(OPTED_IN_REPLY.to_owned())
        }
        Keyword::Help => {
            let settings = SettingsStore::for_tenant(&api.db, &api.outbox, verified.scope.clone())
                .get()
                .await?;
            Some(settings.settings.telephony().help_text.clone())
        }
    };
    Ok(match reply {
        Some(text) => message_twiml(&text),
        None => twiml::Response::new().to_xml(),
    })
}

/// `<Response><Message>text</Message></Response>`, the text escaped (the
/// TwiML builder speaks only voice verbs).
#[must_use]
pub fn message_twiml(text: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Message>{}</Message></Response>",
        twiml::escape(text)
    )
}

async fn customer_message(
    api: &TelephonyApi,
    principal: &Principal,
    verified: &Verified,
    from: &Phone,
    body: &str,
    sid: &str,
) -> Result<(), Error> {
    let scope = verified.scope.clone();
    let channel_id = verified.account.channel_id.as_str();
    let text = if body.trim().is_empty() {
        MessageText::customer("Body", NO_TEXT)?
    } else {
        MessageText::customer("Body", body)?
    };
    // The MessageSid makes the conversation's writes idempotent: a
    // redelivery after a crash stores nothing twice.
    let idempotency_key = IdempotencyKey::parse_optional(&format!("twilio:{sid}"))?;
    let threads = SmsThreadStore::for_tenant(&api.db, &api.vault, scope.clone());
    let store = ConversationStore::for_tenant(&api.db, &api.outbox, &api.vault, scope.clone());

    if let Some(open) = threads.open_conversation_of(channel_id, from).await? {
        let id = ConversationId::parse(&open)
            .map_err(|_| Error::Internal(anyhow::anyhow!("sms thread {open} has a bad id")))?;
        let (conversation, message_id, fingerprint) = match store
            .prepare_customer_message(&id, None, &text, idempotency_key.as_ref())
            .await?
        {
            PreparedPost::Replayed(_) => return Ok(()),
            PreparedPost::New {
                conversation,
                message_id,
                fingerprint,
            } => (conversation, message_id, fingerprint),
        };
        let answer = gate::ask(
            &api.escalation,
            principal,
            &conversation,
            message_id.as_str(),
            text.as_str(),
        )
        .await;
        let message = store
            .store_customer_message(
                principal,
                &id,
                message_id,
                text,
                idempotency_key,
                fingerprint,
                gate::verdict(answer.as_ref()),
            )
            .await?
            .message;
        tracing::info!(
            conversation_id = %id,
            message_id = %message.id,
            gate = message.gate.as_deref().unwrap_or_default(),
            "inbound sms stored"
        );
        return Ok(());
    }

    let customer_id = matching_customer(api, &scope, from).await?;
    let started = store
        .start(
            principal,
            NewConversation {
                channel: Channel::Sms,
                origin: String::new(),
                customer_id,
                transcript_consent: false,
                first_message: Some(text),
                idempotency_key,
                visitor_token: None,
            },
        )
        .await?;
    let conversation = started.conversation;
    let id = ConversationId::parse(&conversation.id)
        .map_err(|_| Error::Internal(anyhow::anyhow!("a started conversation has a bad id")))?;
    let has_thread = sms_thread::Entity::find_by_id(conversation.id.clone())
        .one(&api.db)
        .await?
        .is_some();
    if !has_thread {
        threads.open(&api.db, &id, channel_id, from).await?;
    }
    if let Some(first) = started.first_message
        && first.gate.as_deref() == Some("pending")
    {
        let (decided, _) =
            gate::decide(&store, &api.escalation, principal, &conversation, first).await?;
        tracing::info!(
            conversation_id = %id,
            message_id = %decided.id,
            gate = decided.gate.as_deref().unwrap_or_default(),
            "inbound sms started a conversation"
        );
    }
    Ok(())
}

/// The one customer with this number, if exactly one has it.
async fn matching_customer(
    api: &TelephonyApi,
    scope: &crate::store::DataScope,
    from: &Phone,
) -> Result<Option<CustomerId>, Error> {
    let customers = CustomerStore::for_tenant(&api.db, &api.outbox, &api.vault, scope.clone());
    let page = PageRequest::parse(2, "", CustomerId::parse)?;
    let filter = CustomerFilter {
        phone: Some(from.clone()),
        email: None,
    };
    let found = customers.list(&filter, &page).await?;
    if found.items.len() != 1 {
        return Ok(None);
    }
    Ok(CustomerId::parse(&found.items[0].id).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_named_by_their_letters() {
        assert_eq!(keyword_name(" stop all!\n"), "STOPALL");
        assert_eq!(keyword_name("Opt out."), "OPTOUT");
    }

    #[test]
    fn a_message_answer_escapes_tenant_text() {
        let xml = message_twiml("Call <us> & \"go\"</Message><Redirect>x</Redirect>");
        assert!(xml.contains("<Message>Call &lt;us&gt; &amp; &quot;go&quot;&lt;/Message&gt;"));
        assert!(!xml.contains("<Redirect>"));
    }
}
