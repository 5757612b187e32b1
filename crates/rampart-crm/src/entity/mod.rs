//! The CRM's tables as sea-orm entities. Ids are stored as text in their
//! prefixed form (`ten_...`, `cus_...`), so a row read back by hand says what
//! it is; the store converts between these rows and the domain types.

pub mod appointment;
pub mod billing_event;
pub mod business_settings;
pub mod calendar_connection;
pub mod calendar_event;
pub mod calendar_pending;
pub mod calendar_sync;
pub mod call;
pub mod channel;
pub mod conversation;
pub mod customer;
pub mod erasure_request;
pub mod job_note;
pub mod legal_hold;
pub mod message;
pub mod retention;
pub mod sms_opt_out;
pub mod sms_outbox;
pub mod sms_thread;
pub mod telephony_receipt;
pub mod tenant;
pub mod tenant_billing;
