//! TwiML: the XML a voice webhook answers Twilio with
//! (<https://www.twilio.com/docs/voice/twiml>).
//!
//! Only the few verbs Rampart speaks are built, and every piece of text
//! that comes from a tenant's settings (its greeting, its announcement) is
//! escaped, so a setting cannot add verbs (a `<Dial>` to another number, a
//! `<Record>` without the announcement) to the call.

/// A TwiML document being built.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Response {
    verbs: Vec<Verb>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Verb {
    Say(String),
    Record { max_seconds: u32 },
    Gather { action: String, prompt: String },
    Hangup,
}

impl Response {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Speaks `text` to the caller.
    #[must_use]
    pub fn say(mut self, text: &str) -> Self {
        self.verbs.push(Verb::Say(text.to_owned()));
        self
    }

    /// Records the caller for at most `max_seconds`. Build it only after
    /// the announcement was said and consent given ([`crate::consent`]).
    #[must_use]
    pub fn record(mut self, max_seconds: u32) -> Self {
        self.verbs.push(Verb::Record { max_seconds });
        self
    }

    /// Asks a question and posts the caller's speech or keys to `action`.
    #[must_use]
    pub fn gather(mut self, action: &str, prompt: &str) -> Self {
        self.verbs.push(Verb::Gather {
            action: action.to_owned(),
            prompt: prompt.to_owned(),
        });
        self
    }

    /// Ends the call.
    #[must_use]
    pub fn hangup(mut self) -> Self {
        self.verbs.push(Verb::Hangup);
        self
    }

    /// The document, as Twilio reads it (`text/xml`).
    #[must_use]
    pub fn to_xml(&self) -> String {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response>");
        for verb in &self.verbs {
            match verb {
                Verb::Say(text) => {
                    xml.push_str("<Say>");
                    xml.push_str(&escape(text));
                    xml.push_str("</Say>");
                }
                Verb::Record { max_seconds } => {
                    xml.push_str(&format!("<Record maxLength=\"{max_seconds}\"/>"));
                }
                Verb::Gather { action, prompt } => {
                    xml.push_str("<Gather input=\"speech dtmf\" action=\"");
                    xml.push_str(&escape(action));
                    xml.push_str("\" method=\"POST\"><Say>");
                    xml.push_str(&escape(prompt));
                    xml.push_str("</Say></Gather>");
                }
                Verb::Hangup => xml.push_str("<Hangup/>"),
            }
        }
        xml.push_str("</Response>");
        xml
    }
}

/// `text` with XML's five special characters escaped, and the characters
/// XML 1.0 does not allow (most control characters) dropped.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\t' | '\n' | '\r' => escaped.push(character),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_in_order() {
        let xml = Response::new()
            .say("This call may be recorded.")
            .record(120)
            .hangup()
            .to_xml();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Say>This call may be recorded.</Say>\
             <Record maxLength=\"120\"/><Hangup/></Response>"
        );
    }

    #[test]
    fn tenant_text_cannot_add_verbs() {
        let greeting = "Hi</Say><Dial>+15550000000</Dial><Say>";
        let xml = Response::new().say(greeting).to_xml();
        assert!(!xml.contains("<Dial>"), "{xml}");
        assert!(xml.contains("Hi&lt;/Say&gt;&lt;Dial&gt;"), "{xml}");
        let xml = Response::new()
            .gather("/v1/telephony/twilio/voice?step=\"x\"&a=1", "Say 'yes'")
            .to_xml();
        assert!(xml.contains("action=\"/v1/telephony/twilio/voice?step=&quot;x&quot;&amp;a=1\""));
        assert!(xml.contains("Say &apos;yes&apos;"));
    }

    #[test]
    fn control_characters_are_dropped() {
        assert_eq!(escape("a\u{0}b\u{1b}c\nd"), "abc\nd");
    }
}
