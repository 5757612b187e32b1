//! Prefixed, typed identifiers.
//!
//! An id reads as what it names (`ten_...` for a tenant, `cus_...` for a
//! customer) and a tenant id cannot be passed where a customer id is wanted.
//! The body is a UUIDv7 in lowercase hex, so ids sort by creation time, which
//! is what cursor pagination orders by. Ids are parsed, not validated: a value
//! of one of these types is always well formed, and it is stored as text.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

/// An id that does not have the expected prefix and body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {kind} id")]
pub struct MalformedId {
    /// What kind of id was expected, such as "tenant".
    pub kind: &'static str,
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The prefix before the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A new id, unique and ordered by creation time.
            #[must_use]
            pub fn generate() -> Self {
                Self(format!("{}_{}", $prefix, Uuid::now_v7().simple()))
            }

            /// Parses an id, accepting only the canonical form.
            pub fn parse(text: &str) -> Result<Self, MalformedId> {
                let malformed = MalformedId { kind: $kind };
                let body = text
                    .strip_prefix(concat!($prefix, "_"))
                    .ok_or_else(|| malformed.clone())?;
                let is_canonical = body.len() == 32
                    && body.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                if !is_canonical || Uuid::try_parse(body).is_err() {
                    return Err(malformed);
                }
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

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = MalformedId;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::parse(text)
            }
        }
    };
}

prefixed_id!(
    /// A tenant: one business.
    TenantId, "ten", "tenant"
);
prefixed_id!(
    /// A customer of a tenant.
    CustomerId, "cus", "customer"
);
prefixed_id!(
    /// A conversation with a tenant's customer.
    ConversationId, "cnv", "conversation"
);
prefixed_id!(
    /// An API key's id (never the key itself).
    ApiKeyId, "key", "api key"
);
prefixed_id!(
    /// A person who signs in: a tenant's user or a platform admin.
    UserId, "usr", "user"
);
prefixed_id!(
    /// A signed-in session's id (never its token).
    SessionId, "ses", "session"
);
prefixed_id!(
    /// A message in a conversation.
    MessageId, "msg", "message"
);
prefixed_id!(
    /// A conversation handed to a human.
    HandoffId, "hof", "handoff"
);
prefixed_id!(
    /// A customer's appointment.
    AppointmentId, "apt", "appointment"
);
prefixed_id!(
    /// A job note, on a customer or an appointment.
    JobNoteId, "jnt", "job note"
);
prefixed_id!(
    /// A tenant's connected channel (an SMS number, a phone line, a mailbox).
    ChannelId, "chn", "channel"
);
prefixed_id!(
    /// A request to erase a customer's data.
    ErasureRequestId, "era", "erasure request"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        let id = TenantId::generate();
        assert!(id.as_str().starts_with("ten_"));
        assert_eq!(TenantId::parse(id.as_str()).unwrap(), id);
    }

    #[test]
    fn wrong_prefix_is_refused() {
        let customer = CustomerId::generate();
        assert!(TenantId::parse(customer.as_str()).is_err());
    }

    #[test]
    fn non_canonical_bodies_are_refused() {
        let id = TenantId::generate();
        let upper = format!("ten_{}", id.as_str()[4..].to_uppercase());
        for bad in [
            "",
            "ten_",
            "ten",
            "ten_xyz",
            upper.as_str(),
            "ten_0192f0c1-7e4a-7b1d-9c3e-1a2b3c4d5e6f",
            "ten_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f0",
            " ten_0192f0c17e4a7b1d9c3e1a2b3c4d5e6f",
        ] {
            assert!(TenantId::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    #[allow(
        clippy::disallowed_methods,
        reason = "a synchronous test that needs the clock to move, with no runtime to block"
    )]
    fn ids_sort_by_creation() {
        let first = CustomerId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = CustomerId::generate();
        assert!(first < second);
    }
}
