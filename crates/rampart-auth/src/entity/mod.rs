//! The auth service's tables, as sea-orm entities.

pub mod api_key;
