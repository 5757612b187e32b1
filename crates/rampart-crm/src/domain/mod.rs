//! The CRM's domain types: every value a client sends is parsed into one of
//! these before it reaches the store, so the store never sees an unchecked
//! string.
//!
//! Each type has a private field and a fallible `parse`; holding a value of
//! the type is proof that it passed. A refusal is an [`InvalidInput`] naming
//! the field, never echoing the value (it may be personal data, and error
//! messages travel to clients and logs).
//!
//! - [`name`] holds [`TenantName`] and [`CustomerName`].
//! - [`email`] holds [`Email`], a customer's address, domain lowercased.
//! - [`phone`] holds [`Phone`], kept in a normalised form.
//! - [`address`] holds [`Address`], one free-form line.
//! - [`office_domain`] holds [`OfficeDomain`], a tenant's staff email domain.
//! - [`page`] holds [`PageRequest`], the bounded page size and cursor of list
//!   calls.
//! - [`conversation`] holds a conversation's [`Channel`], its
//!   [`ConversationStatus`] and the rules for moving it, [`MessageText`],
//!   [`Summary`] and [`IdempotencyKey`].
//! - [`schedule`] holds an appointment's [`AppointmentWindow`],
//!   [`ServiceType`] and [`AppointmentStatus`] (with its allowed steps), and
//!   a job note's [`NoteText`] and [`Equipment`].
//! - [`visitor_token`] holds the widget visitor's [`VisitorToken`] and its
//!   stored hash.
//! - [`settings`] holds a tenant's [`BusinessSettings`] document;
//!   [`retention`] its [`RetentionPeriods`]; [`channel_config`] a channel's
//!   [`ChannelKind`], [`ChannelName`] and write-only
//!   [`ChannelCredentials`]; [`legal_hold`] a hold's [`HoldReason`];
//!   [`erasure`] an erasure request's [`ErasureReason`], [`ErasureSource`]
//!   and [`ErasureStatus`].
//! - [`decision`] holds the gate's [`Receipt`] and the guardrails'
//!   [`Finding`]s as the CRM stores them.
//! - [`billing`] holds a tenant's [`billing::BillingState`] and its table
//!   of allowed transitions.
//! - [`report_period`] holds an activity report's [`ReportPeriod`].

pub mod address;
pub mod billing;
pub mod channel_config;
pub mod conversation;
pub mod decision;
pub mod email;
pub mod erasure;
pub mod legal_hold;
pub mod name;
pub mod office_domain;
pub mod page;
pub mod phone;
pub mod report_period;
pub mod retention;
pub mod schedule;
pub mod settings;
pub mod visitor_token;

use std::borrow::Cow;
use std::fmt;

pub use address::Address;
pub use channel_config::{ChannelCredentials, ChannelKind, ChannelName};
pub use channel_config::{E164Number, check_channel_setup};
pub use conversation::{Channel, ConversationStatus, IdempotencyKey, MessageText, Summary};
pub use decision::{Finding, Receipt};
pub use email::Email;
pub use erasure::{ErasureReason, ErasureSource, ErasureStatus};
pub use legal_hold::HoldReason;
pub use name::{CustomerName, TenantName};
pub use office_domain::OfficeDomain;
pub use page::PageRequest;
pub use phone::Phone;
pub use report_period::ReportPeriod;
pub use retention::{RetentionDays, RetentionPeriods};
pub use schedule::{AppointmentStatus, AppointmentWindow, Equipment, NoteText, ServiceType};
pub use settings::BusinessSettings;
pub use visitor_token::{VisitorToken, VisitorTokenHash};

/// A client-supplied value that does not parse. The message names the field
/// and the rule it broke, so a client can fix its request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct InvalidInput {
    field: Cow<'static, str>,
    problem: &'static str,
}

impl InvalidInput {
    #[must_use]
    pub fn new(field: impl Into<Cow<'static, str>>, problem: &'static str) -> Self {
        Self {
            field: field.into(),
            problem,
        }
    }

    /// The request field at fault, such as `email` or `office_domains[1]`.
    #[must_use]
    pub fn field(&self) -> &str {
        &self.field
    }
}

/// Writes `Type(..)` instead of the value, for types holding personal data,
/// so that a stray `{:?}` in a log line cannot leak it.
macro_rules! redacted_debug {
    ($($name:ident),* $(,)?) => {$(
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    )*};
}

redacted_debug!(
    CustomerName,
    Email,
    Phone,
    Address,
    MessageText,
    Summary,
    NoteText,
    Equipment
);
