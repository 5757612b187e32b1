//! The parsed request: the channel a message arrived on and its text.
//!
//! Parsed before anything else looks at them, so the rules in
//! [`crate::intents`] only ever see a bounded, non-blank text.

use crate::error::Error;

/// The longest text evaluated, in characters. A chat message or a call
/// transcript turn fits easily; a bound keeps one call's cost bounded.
pub const MAX_TEXT_CHARS: usize = 4000;

/// Where a customer's message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Phone,
    Sms,
    Web,
    Widget,
}

impl Channel {
    /// Parses the wire name; the set is closed and names are exact, so a
    /// client typo is reported instead of silently evaluated as something.
    pub fn parse(raw: &str) -> Result<Self, Error> {
        match raw {
            "phone" => Ok(Self::Phone),
            "sms" => Ok(Self::Sms),
            "web" => Ok(Self::Web),
            "widget" => Ok(Self::Widget),
            _ => Err(Error::UnknownChannel),
        }
    }

    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::Sms => "sms",
            Self::Web => "web",
            Self::Widget => "widget",
        }
    }
}

/// A customer's message: not blank, at most [`MAX_TEXT_CHARS`] characters.
/// Its `Debug` is redacted: the text is the customer's own words and may hold
/// anything, so it must not reach logs.
#[derive(Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(raw: String) -> Result<Self, Error> {
        if raw.trim().is_empty() {
            return Err(Error::EmptyText);
        }
        if raw.chars().count() > MAX_TEXT_CHARS {
            return Err(Error::TextTooLong);
        }
        Ok(Self(raw))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for MessageText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MessageText(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_channels_parse() {
        for channel in [Channel::Phone, Channel::Sms, Channel::Web, Channel::Widget] {
            assert_eq!(Channel::parse(channel.as_str()).unwrap(), channel);
        }
    }

    #[test]
    fn other_channels_are_refused() {
        for raw in ["", "email", "Phone", " sms", "web ", "whatsapp"] {
            assert!(
                matches!(Channel::parse(raw), Err(Error::UnknownChannel)),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn blank_text_is_refused() {
        for raw in ["", " ", "\n\t ", "\u{3000}"] {
            assert!(
                matches!(MessageText::parse(raw.into()), Err(Error::EmptyText)),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn text_length_is_counted_in_characters() {
        assert!(MessageText::parse("é".repeat(MAX_TEXT_CHARS)).is_ok());
        assert!(matches!(
            MessageText::parse("a".repeat(MAX_TEXT_CHARS + 1)),
            Err(Error::TextTooLong)
        ));
    }

    #[test]
    fn text_does_not_show_in_debug_output() {
        let text = MessageText::parse("my card number is 4242".into()).unwrap();
        assert_eq!(format!("{text:?}"), "MessageText(..)");
    }
}
