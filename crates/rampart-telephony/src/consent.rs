//! Call recording consent: whether a call may be recorded or transcribed,
//! from the tenant's setting, its jurisdiction's rule, and what happened on
//! the call.
//!
//! The second seed asks that recordings and transcripts be captured only
//! with a clear need, under the applicable consent rules, with callers
//! informed. Under a one-party rule the business is the consenting party,
//! but Rampart still announces the recording (callers are informed either
//! way); under an all-party rule the caller must also agree. Nothing is
//! stored on a maybe: without both the tenant's choice and the consent the
//! rule needs, the call keeps a summary only.

/// The consent rule of the tenant's jurisdiction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jurisdiction {
    /// One party's consent suffices (the business's own).
    OneParty,
    /// Every party must consent: the caller too.
    AllParty,
}

/// What happened on a call, as its record holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallConsent {
    /// The recording announcement was played to the caller.
    pub announced: bool,
    /// The caller agreed (said or keyed yes) after the announcement.
    pub caller_consented: bool,
}

/// What may be kept of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// The recording and its transcript may be stored.
    RecordingAndTranscript,
    /// Only a summary (no audio, no verbatim transcript).
    SummaryOnly,
}

/// What may be kept of a call: a recording only when the tenant enabled
/// recording, the caller was told, and the rule's consent is there.
#[must_use]
pub fn retention(recording_enabled: bool, rule: Jurisdiction, call: CallConsent) -> Retention {
    let consented = match rule {
        Jurisdiction::OneParty => call.announced,
        Jurisdiction::AllParty => call.announced && call.caller_consented,
    };
    if recording_enabled && consented {
        Retention::RecordingAndTranscript
    } else {
        Retention::SummaryOnly
    }
}

/// Whether the call must ask the caller's consent before recording.
#[must_use]
pub fn must_ask(recording_enabled: bool, rule: Jurisdiction) -> bool {
    recording_enabled && rule == Jurisdiction::AllParty
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination() {
        use Jurisdiction::{AllParty, OneParty};
        use Retention::{RecordingAndTranscript as Keep, SummaryOnly as Summary};
        let call = |announced, caller_consented| CallConsent {
            announced,
            caller_consented,
        };
        let cases = [
            // (enabled, rule, announced, consented) -> retention
            (false, OneParty, true, true, Summary),
            (false, AllParty, true, true, Summary),
            (true, OneParty, false, false, Summary),
            (true, OneParty, false, true, Summary),
            (true, OneParty, true, false, Keep),
            (true, AllParty, true, false, Summary),
            (true, AllParty, false, true, Summary),
            (true, AllParty, true, true, Keep),
        ];
        for (enabled, rule, announced, consented, expected) in cases {
            assert_eq!(
                retention(enabled, rule, call(announced, consented)),
                expected,
                "{enabled} {rule:?} {announced} {consented}"
            );
        }
    }

    #[test]
    fn only_all_party_recording_asks() {
        assert!(must_ask(true, Jurisdiction::AllParty));
        assert!(!must_ask(true, Jurisdiction::OneParty));
        assert!(!must_ask(false, Jurisdiction::AllParty));
    }
}
