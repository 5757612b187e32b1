//! An inbound call, and what may be kept of it.
//!
//! Each call has a `crm_call` row, written with the receipt of the step
//! that changed it. When the call comes in the row takes the tenant's
//! settings as they are then (recording on or off, the consent rule), so a
//! settings change mid-call changes nothing for it. The answers:
//! - recording off: a greeting; nothing is recorded;
//! - recording on, all-party rule: the announcement, then a question (press
//!   1 to agree) whose answer comes back as step `consent`; only a 1 records
//!   the caller's consent (audited `call.consent_given`) and starts the
//!   recording;
//! - recording on, one-party rule: the announcement, then the recording.
//!
//! Recording and transcription callbacks (step `recording`, or Twilio's
//! `<Record>` posting back to the call's URL) are stored, sealed under the
//! call's data key, only when [`consent::retention`] says so (audited
//! `call.recording_stored`); otherwise they are dropped and the call keeps a
//! summary saying so.

use rampart_kit::outbox::AuditRecord;
use rampart_kit::pki::ServiceName;
use rampart_kit::principal::Principal;
use rampart_telephony::consent::{self, CallConsent, Jurisdiction, Retention};
use rampart_telephony::twiml;
use sea_orm::{
    ActiveModelTrait, ActiveValue, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter,
};

use super::{TelephonyApi, Verified, receipts};
use crate::Error;
use crate::domain::settings::consent_rule_name;
use crate::domain::{InvalidInput, Phone};
use crate::entity::call;
use crate::store::call_owner;
use crate::store::{DataScope, SettingsStore, SmsThreadStore};
use crate::vault::{Field, Vault};

/// How long a recording may run.
const MAX_RECORDING_SECONDS: u32 = 600;
/// What a call hears when nothing is recorded.
pub const GREETING: &str = "Thank you for calling. How can we help you today?";
/// The question an all-party call asks after the announcement.
pub const CONSENT_PROMPT: &str = "To agree to this call being recorded, press 1. To continue without recording, press any other key.";
const CONSENT_THANKS: &str = "Thank you. This call will be recorded.";
const NO_RECORDING: &str = "This call will not be recorded.";

/// The step of a call a webhook is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Initial,
    Consent,
    Recording,
}

/// The step, from the signed URL's `step` parameter (Rampart's own
/// `<Gather>` action names it), or a recording callback Twilio posts to
/// the call's own URL.
fn step_of(verified: &Verified) -> Result<Step, Error> {
    let query = verified.url.split_once('?').map_or("", |(_, query)| query);
    let step = rampart_telephony::twilio_signature::parse_form(query.as_bytes())
        .unwrap_or_default()
        .into_iter()
        .find(|(name, _)| name == "step")
        .map(|(_, value)| value);
    match step.as_deref() {
        Some("consent") => Ok(Step::Consent),
        Some("recording") => Ok(Step::Recording),
        Some("initial") => Ok(Step::Initial),
        Some(_) => Err(InvalidInput::new("step", "must be initial, consent or recording").into()),
        None if verified.param("RecordingUrl").is_some()
            || verified.param("TranscriptionText").is_some() =>
        {
            Ok(Step::Recording)
        }
        None => Ok(Step::Initial),
    }
}

/// The URL of the call's next step: the signed URL's own (the configured
/// public URL and path), never anything the request's Host said.
fn step_url(verified: &Verified, step: &str) -> String {
    let base = verified
        .url
        .split_once('?')
        .map_or(verified.url.as_str(), |(base, _)| base);
    format!("{base}?step={step}")
}

pub(super) async fn handle(api: &TelephonyApi, verified: &Verified) -> Result<String, Error> {
    let call_sid = verified
        .param("CallSid")
        .ok_or_else(|| InvalidInput::new("CallSid", "is required"))?;
    let principal = Principal::system(verified.scope.tenant_id.clone(), ServiceName::Crm)
        .in_mode(verified.scope.mode);
    match step_of(verified)? {
        Step::Initial => answer(api, verified, call_sid).await,
        Step::Consent => consent_step(api, &principal, verified, call_sid).await,
        Step::Recording => recording(api, &principal, verified, call_sid).await,
    }
}

async fn answer(api: &TelephonyApi, verified: &Verified, call_sid: &str) -> Result<String, Error> {
    let key = receipts::key("voice", &[call_sid, "initial"])?;
    if receipts::seen(&api.db, &verified.scope, &key).await? {
        return Err(Error::WebhookReplayed);
    }
    let settings = SettingsStore::for_tenant(&api.db, &api.outbox, verified.scope.clone())
        .get()
        .await?;
    let telephony = settings.settings.telephony().clone();
    let phone_index = match Phone::parse(verified.param("From").unwrap_or_default()) {
        Ok(phone) => {
            SmsThreadStore::for_tenant(&api.db, &api.vault, verified.scope.clone())
                .index_of(&api.db, &phone)
                .await?
        }
        // A withheld number ("Anonymous") has no index.
        Err(_) => String::new(),
    };
    let recording = telephony.recording_enabled;
    let asks = consent::must_ask(recording, telephony.consent_rule);
    let (status, twiml) = if !recording {
        ("answered", twiml::Response::new().say(GREETING))
    } else if asks {
        (
            "consent_asked",
            twiml::Response::new()
                .say(&telephony.recording_announcement)
                .gather(&step_url(verified, "consent"), CONSENT_PROMPT),
        )
    } else {
        (
            "recording",
            twiml::Response::new()
                .say(&telephony.recording_announcement)
                .record(MAX_RECORDING_SECONDS),
        )
    };
    let now = chrono::Utc::now();
    let row = call::Model {
        tenant_id: verified.scope.tenant_id.as_str().to_owned(),
        call_sid: call_sid.to_owned(),
        mode: verified.scope.mode.as_str().to_owned(),
        channel_id: verified.account.channel_id.clone(),
        phone_index,
        consent_rule: consent_rule_name(telephony.consent_rule).to_owned(),
        recording_enabled: recording,
        announced: recording,
        caller_consented: false,
        status: status.to_owned(),
        summary_sealed: None,
        recording_url_sealed: None,
        transcript_sealed: None,
        started_at: now,
        updated_at: now,
    };
    let change = api.outbox.begin(&api.db).await?;
    receipts::record(change.tx(), &verified.scope, &key).await?;
    call::Entity::insert(row.into_active_model())
        .exec_without_returning(change.tx())
        .await?;
    change.commit().await?;
    tracing::info!(
        channel_id = %verified.account.channel_id,
        %call_sid,
        status,
        "inbound call answered"
    );
    Ok(twiml.to_xml())
}

async fn find_call(
    db: &impl ConnectionTrait,
    scope: &DataScope,
    call_sid: &str,
) -> Result<call::Model, Error> {
    call::Entity::find()
        .filter(call::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(call::Column::Mode.eq(scope.mode.as_str()))
        .filter(call::Column::CallSid.eq(call_sid))
        .one(db)
        .await?
        .ok_or_else(|| InvalidInput::new("CallSid", "is not a call this number answered").into())
}

async fn consent_step(
    api: &TelephonyApi,
    principal: &Principal,
    verified: &Verified,
    call_sid: &str,
) -> Result<String, Error> {
    let key = receipts::key("voice", &[call_sid, "consent"])?;
    let mut change = api.outbox.begin(&api.db).await?;
    receipts::record(change.tx(), &verified.scope, &key).await?;
    let existing = find_call(change.tx(), &verified.scope, call_sid).await?;
    // Only the question this call was asked can be answered, and only a 1.
    let agreed = existing.status == "consent_asked"
        && existing.announced
        && verified.param("Digits").map(str::trim) == Some("1");
    let mut row = existing.into_active_model();
    row.updated_at = ActiveValue::Set(chrono::Utc::now());
    let twiml = if agreed {
        row.caller_consented = ActiveValue::Set(true);
        row.status = ActiveValue::Set("recording".to_owned());
        change.audit(
            AuditRecord::success(
                principal,
                Some(verified.scope.tenant_id.as_str()),
                "call.consent_given",
                format!("call:{call_sid}"),
            )
            .with_detail("channel_id", verified.account.channel_id.clone()),
        );
        twiml::Response::new()
            .say(CONSENT_THANKS)
            .record(MAX_RECORDING_SECONDS)
    } else {
        row.status = ActiveValue::Set("answered".to_owned());
        twiml::Response::new().say(NO_RECORDING)
    };
    row.update(change.tx()).await?;
    change.commit().await?;
    tracing::info!(%call_sid, agreed, "call consent step");
    Ok(twiml.to_xml())
}

fn field<'a>(column: &'static str, call_sid: &'a str) -> Field<'a> {
    Field {
        table: "crm_call",
        column,
        row: call_sid,
    }
}

async fn recording(
    api: &TelephonyApi,
    principal: &Principal,
    verified: &Verified,
    call_sid: &str,
) -> Result<String, Error> {
    let (what, sid) = match (
        verified.param("TranscriptionSid"),
        verified.param("RecordingSid"),
    ) {
        (Some(sid), _) => ("transcription", sid),
        (None, Some(sid)) => ("recording", sid),
        (None, None) => {
            return Err(InvalidInput::new("RecordingSid", "is required").into());
        }
    };
    let key = receipts::key("voice", &[call_sid, what, sid])?;
    let mut change = api.outbox.begin(&api.db).await?;
    receipts::record(change.tx(), &verified.scope, &key).await?;
    let existing = find_call(change.tx(), &verified.scope, call_sid).await?;
    let rule = if existing.consent_rule == "one_party" {
        Jurisdiction::OneParty
    } else {
        Jurisdiction::AllParty
    };
    let keep = consent::retention(
        existing.recording_enabled,
        rule,
        CallConsent {
            announced: existing.announced,
            caller_consented: existing.caller_consented,
        },
    ) == Retention::RecordingAndTranscript;
    let key_owner = call_owner(call_sid);
    let data_key = api
        .vault
        .tenant(change.tx(), &verified.scope.tenant_id)
        .await?
        .data_key(change.tx(), &key_owner)
        .await?;
    let mut row = existing.into_active_model();
    row.updated_at = ActiveValue::Set(chrono::Utc::now());
    row.status = ActiveValue::Set("completed".to_owned());
    if keep {
        if let Some(url) = verified.param("RecordingUrl") {
            row.recording_url_sealed =
                ActiveValue::Set(Some(data_key.seal(&field("recording_url", call_sid), url)));
        }
        if let Some(text) = verified.param("TranscriptionText") {
            row.transcript_sealed =
                ActiveValue::Set(Some(data_key.seal(&field("transcript", call_sid), text)));
        }
        change.audit(
            AuditRecord::success(
                principal,
                Some(verified.scope.tenant_id.as_str()),
                "call.recording_stored",
                format!("call:{call_sid}"),
            )
            .with_detail("what", what)
            .with_detail("consent_rule", consent_rule_name(rule)),
        );
    } else {
        let duration = verified
            .param("RecordingDuration")
            .and_then(|seconds| seconds.parse::<u32>().ok());
        let summary = match duration {
            Some(seconds) => format!(
                "Call of about {seconds} s. The {what} was not kept: recording was off or consent under the {} rule was not given.",
                consent_rule_name(rule)
            ),
            None => format!(
                "The {what} was not kept: recording was off or consent under the {} rule was not given.",
                consent_rule_name(rule)
            ),
        };
        row.summary_sealed =
            ActiveValue::Set(Some(data_key.seal(&field("summary", call_sid), &summary)));
    }
    row.update(change.tx()).await?;
    change.commit().await?;
    tracing::info!(%call_sid, what, kept = keep, "call recording callback");
    Ok(twiml::Response::new().to_xml())
}

/// What a call's record keeps, opened: for tests and the console.
#[derive(Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub call: call::Model,
    pub recording_url: Option<String>,
    pub transcript: Option<String>,
    pub summary: Option<String>,
}

impl std::fmt::Debug for CallRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallRecord")
            .field("call", &self.call)
            .field("recording_url_set", &self.recording_url.is_some())
            .field("transcript_set", &self.transcript.is_some())
            .finish_non_exhaustive()
    }
}

/// A call's record, its sealed fields opened.
pub async fn read_call(
    db: &impl ConnectionTrait,
    vault: &Vault,
    scope: &DataScope,
    call_sid: &str,
) -> Result<Option<CallRecord>, Error> {
    let Some(row) = call::Entity::find()
        .filter(call::Column::TenantId.eq(scope.tenant_id.as_str()))
        .filter(call::Column::Mode.eq(scope.mode.as_str()))
        .filter(call::Column::CallSid.eq(call_sid))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let key = vault
        .tenant(db, &scope.tenant_id)
        .await?
        .existing_data_key(db, &call_owner(call_sid))
        .await?;
    let open = |column: &'static str, sealed: &Option<Vec<u8>>| -> Result<Option<String>, Error> {
        match (sealed, &key) {
            (Some(sealed), Some(key)) => Ok(Some(key.open(&field(column, call_sid), sealed)?)),
            _ => Ok(None),
        }
    };
    Ok(Some(CallRecord {
        recording_url: open("recording_url", &row.recording_url_sealed)?,
        transcript: open("transcript", &row.transcript_sealed)?,
        summary: open("summary", &row.summary_sealed)?,
        call: row,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_step_url_is_the_signed_urls_own() {
        let verified = |url: &str| Verified {
            account: crate::store::TwilioAccount {
                channel_id: "chn_1".into(),
                tenant_id: rampart_kit::ids::TenantId::generate(),
                mode: rampart_kit::principal::DataMode::Live,
                phone_number: "+14155550100".into(),
                account_sid: "AC1".into(),
                auth_token: rampart_kit::secret::SecretString::from("t".to_owned()),
            },
            scope: DataScope::live(rampart_kit::ids::TenantId::generate()),
            params: vec![],
            url: url.to_owned(),
        };
        let v = verified("https://hooks.example/v1/telephony/twilio/voice?x=1");
        assert_eq!(
            step_url(&v, "consent"),
            "https://hooks.example/v1/telephony/twilio/voice?step=consent"
        );
        assert_eq!(step_of(&v).unwrap(), Step::Initial);
        let v = verified("https://hooks.example/v1/telephony/twilio/voice?step=consent");
        assert_eq!(step_of(&v).unwrap(), Step::Consent);
        let v = verified("https://hooks.example/v1/telephony/twilio/voice?step=dial");
        assert!(step_of(&v).is_err());
        let mut v = verified("https://hooks.example/v1/telephony/twilio/voice");
        v.params
            .push(("RecordingUrl".into(), "https://api.twilio.com/r".into()));
        assert_eq!(step_of(&v).unwrap(), Step::Recording);
    }
}
