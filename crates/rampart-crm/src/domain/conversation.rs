//! The words of a conversation: its channel and status, the texts people
//! and the AI write in it, its summary, and the idempotency key a client
//! sends with a create.

use super::InvalidInput;

/// Where a conversation takes place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Widget,
    Web,
    Sms,
    Phone,
    Email,
}

impl Channel {
    const ALL: [Self; 5] = [Self::Widget, Self::Web, Self::Sms, Self::Phone, Self::Email];

    /// Parses the wire name; `field` names the request field in the refusal.
    pub fn parse(field: &'static str, text: &str) -> Result<Self, InvalidInput> {
        Self::ALL
            .into_iter()
            .find(|channel| channel.as_str() == text)
            .ok_or_else(|| InvalidInput::new(field, "must be widget, web, sms, phone or email"))
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Widget => "widget",
            Self::Web => "web",
            Self::Sms => "sms",
            Self::Phone => "phone",
            Self::Email => "email",
        }
    }
}

/// Who has a conversation: the AI, a person (waiting for one, or one who
/// claimed it), or nobody any more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationStatus {
    AiActive,
    HandedOff,
    Assigned,
    Resolved,
    Closed,
}

impl ConversationStatus {
    const ALL: [Self; 5] = [
        Self::AiActive,
        Self::HandedOff,
        Self::Assigned,
        Self::Resolved,
        Self::Closed,
    ];

    pub fn parse(field: &'static str, text: &str) -> Result<Self, InvalidInput> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
            .ok_or_else(|| {
                InvalidInput::new(
                    field,
                    "must be ai_active, handed_off, assigned, resolved or closed",
                )
            })
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AiActive => "ai_active",
            Self::HandedOff => "handed_off",
            Self::Assigned => "assigned",
            Self::Resolved => "resolved",
            Self::Closed => "closed",
        }
    }

    /// Still going: someone (the AI or a person) is to answer.
    #[must_use]
    pub fn is_open(self) -> bool {
        matches!(self, Self::AiActive | Self::HandedOff | Self::Assigned)
    }

    /// A person has the conversation, or is about to: the AI stays silent.
    #[must_use]
    pub fn is_with_a_person(self) -> bool {
        matches!(self, Self::HandedOff | Self::Assigned)
    }

    /// Whether a handoff step may move a conversation from `self` to `to`:
    /// a waiting conversation is claimed (and a claimed one re-claimed), a
    /// person hands back to the AI, any open conversation is resolved, and
    /// a resolved one is closed. Nothing leaves `closed`.
    #[must_use]
    pub fn may_become(self, to: Self) -> bool {
        use ConversationStatus::{AiActive, Assigned, Closed, HandedOff, Resolved};
        match (self, to) {
            (HandedOff | Assigned, Assigned) | (Assigned | HandedOff, AiActive) => true,
            (from, Resolved) => from.is_open(),
            (Resolved, Closed) => true,
            _ => false,
        }
    }
}

/// The longest message a customer may send.
pub const MAX_CUSTOMER_TEXT_CHARS: usize = 2000;
/// The longest reply the AI or an agent may send.
pub const MAX_REPLY_CHARS: usize = 4000;
/// The longest summary.
pub const MAX_SUMMARY_CHARS: usize = 4000;

/// What someone wrote in a conversation: 1 to a bounded number of
/// characters, without control characters other than line breaks and tabs
/// (the text is shown to agents and must not smuggle terminal codes).
#[derive(Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    /// A customer's message: at most [`MAX_CUSTOMER_TEXT_CHARS`].
    pub fn customer(field: &'static str, text: &str) -> Result<Self, InvalidInput> {
        Self::parse(field, text, MAX_CUSTOMER_TEXT_CHARS)
    }

    /// An AI's or an agent's reply: at most [`MAX_REPLY_CHARS`].
    pub fn reply(field: &'static str, text: &str) -> Result<Self, InvalidInput> {
        Self::parse(field, text, MAX_REPLY_CHARS)
    }

    fn parse(field: &'static str, text: &str, max: usize) -> Result<Self, InvalidInput> {
        if text.trim().is_empty() {
            return Err(InvalidInput::new(field, "must not be empty"));
        }
        if text.chars().count() > max {
            return Err(InvalidInput::new(
                field,
                if max == MAX_CUSTOMER_TEXT_CHARS {
                    "must be at most 2000 characters"
                } else {
                    "must be at most 4000 characters"
                },
            ));
        }
        check_printable(field, text)?;
        Ok(Self(text.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

/// An agent's or the AI's summary of a conversation: empty (cleared) to
/// [`MAX_SUMMARY_CHARS`] characters, printable like a message.
#[derive(Clone, PartialEq, Eq)]
pub struct Summary(String);

impl Summary {
    pub fn parse(text: &str) -> Result<Self, InvalidInput> {
        if text.chars().count() > MAX_SUMMARY_CHARS {
            return Err(InvalidInput::new(
                "summary",
                "must be at most 4000 characters",
            ));
        }
        check_printable("summary", text)?;
        Ok(Self(text.to_owned()))
    }

    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

fn check_printable(field: &'static str, text: &str) -> Result<(), InvalidInput> {
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(InvalidInput::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// The longest idempotency key a client may send.
const MAX_IDEMPOTENCY_KEY_CHARS: usize = 200;

/// A client's key for a create it may retry: 1 to 200 printable ASCII
/// characters. The same key answers the first create's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// `None` for an empty key (the client sent none).
    pub fn parse_optional(text: &str) -> Result<Option<Self>, InvalidInput> {
        if text.is_empty() {
            return Ok(None);
        }
        if text.len() > MAX_IDEMPOTENCY_KEY_CHARS
            || !text.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(InvalidInput::new(
                "idempotency_key",
                "must be at most 200 printable ASCII characters",
            ));
        }
        Ok(Some(Self(text.to_owned())))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_and_statuses_round_trip() {
        for channel in Channel::ALL {
            assert_eq!(Channel::parse("channel", channel.as_str()), Ok(channel));
        }
        for status in ConversationStatus::ALL {
            assert_eq!(
                ConversationStatus::parse("status", status.as_str()),
                Ok(status)
            );
        }
        assert!(Channel::parse("channel", "fax").is_err());
        assert!(Channel::parse("channel", "Widget").is_err());
        assert!(ConversationStatus::parse("status", "open").is_err());
    }

    #[test]
    fn transitions_follow_the_handoff_steps() {
        use ConversationStatus::{AiActive, Assigned, Closed, HandedOff, Resolved};
        let allowed = [
            (HandedOff, Assigned),
            (Assigned, Assigned),
            (Assigned, AiActive),
            (HandedOff, AiActive),
            (AiActive, Resolved),
            (HandedOff, Resolved),
            (Assigned, Resolved),
            (Resolved, Closed),
        ];
        for from in ConversationStatus::ALL {
            for to in ConversationStatus::ALL {
                assert_eq!(
                    from.may_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
        }
    }

    #[test]
    fn texts_are_bounded_and_printable() {
        assert!(MessageText::customer("text", "hello\n\tthere").is_ok());
        assert!(MessageText::customer("text", &"a".repeat(2000)).is_ok());
        assert_eq!(
            MessageText::customer("text", &"a".repeat(2001))
                .unwrap_err()
                .to_string(),
            "text must be at most 2000 characters"
        );
        assert!(MessageText::reply("text", &"é".repeat(4000)).is_ok());
        assert!(MessageText::reply("text", &"a".repeat(4001)).is_err());
        assert!(MessageText::customer("text", "").is_err());
        assert!(MessageText::customer("text", "  \n").is_err());
        assert!(MessageText::customer("text", "bell\u{7}").is_err());
        assert!(MessageText::customer("text", "esc\u{1b}[31m").is_err());
        assert!(Summary::parse("").is_ok());
        assert!(Summary::parse(&"a".repeat(4001)).is_err());
    }

    #[test]
    fn idempotency_keys_are_optional_and_bounded() {
        assert_eq!(IdempotencyKey::parse_optional(""), Ok(None));
        assert!(IdempotencyKey::parse_optional("retry-1").unwrap().is_some());
        assert!(IdempotencyKey::parse_optional(&"k".repeat(201)).is_err());
        assert!(IdempotencyKey::parse_optional("tab\there").is_err());
        assert!(IdempotencyKey::parse_optional("ключ").is_err());
    }
}
