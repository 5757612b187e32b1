//! The auth service's tables, as sea-orm entities.

pub mod api_key;
pub mod challenge;
pub mod checklist_report;
pub mod incident;
pub mod recovery_code;
pub mod session;
pub mod tenant_access;
pub mod tenant_rate_limit;
pub mod tenant_security;
pub mod user;
