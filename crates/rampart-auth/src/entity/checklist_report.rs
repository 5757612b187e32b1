//! `auth_checklist_report`: the monthly checklist's reports as
//! `rampart checklist` sent them, the latest shown in the console.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "auth_checklist_report")]
pub struct Model {
    /// `chk_` and 32 hex digits (a UUIDv7, so ids sort by time).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// When the command ran (the report's `generated_at`).
    pub generated_at: DateTimeUtc,
    pub stored_at: DateTimeUtc,
    /// Who sent it: `admin_key:...` or `user:...`.
    pub stored_by: String,
    /// Hex SHA-256 of `report_json`, also in its audit event.
    pub sha256: String,
    pub pass: i32,
    pub warn: i32,
    pub fail: i32,
    /// The report, exactly as sent.
    pub report_json: String,
    /// The id of its `checklist.completed` audit event.
    pub audit_event_id: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
