//! The audit service's tables, as sea-orm entities.

pub mod event;
