//! The audit service's tables, as sea-orm entities.

pub mod checkpoint;
pub mod event;
pub mod log;
pub mod node;
