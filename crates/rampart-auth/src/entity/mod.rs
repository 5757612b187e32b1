//! The auth service's tables, as sea-orm entities.

pub mod api_key;
pub mod tenant_rate_limit;
