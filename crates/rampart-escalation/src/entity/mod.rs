//! Escalation's policy and decision tables as sea-orm entities (the schema
//! itself is in [`crate::migration`]). Ids are stored as text in their
//! prefixed form; [`crate::policies`] and [`crate::decisions`] are the only
//! code that reads or writes these rows.

pub mod decision;
pub mod policy;
