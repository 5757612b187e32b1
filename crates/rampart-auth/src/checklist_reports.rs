//! The monthly checklist's reports (`rampart checklist`), stored so that
//! the latest run can be read back (the console's checklist page) and so
//! that each run leaves one `checklist.completed` event in the platform's
//! audit log.
//!
//! A report is kept as the JSON the command wrote, byte for byte, with
//! its SHA-256 and its summary counts beside it. Storing checks the shape
//! first (a summary whose counts match its items, each item pass, warn or
//! fail with its evidence) and bounds the size, so the page that shows
//! it can trust what it reads. The row and its audit event are written in
//! one transaction through the outbox, like every change auth makes.

use chrono::{DateTime, Utc};
use rampart_kit::outbox::{AuditRecord, Outbox};
use rampart_kit::principal::Principal;
use sea_orm::{DatabaseConnection, DbErr, EntityTrait, IntoActiveModel, QueryOrder};
use sea_orm_migration::prelude::*;
use serde::Deserialize;

use crate::entity::checklist_report;
use crate::error::Error;

/// The largest report stored: a run has seven items, and the largest (the
/// dependencies) lists a few hundred crates, well under this.
pub const MAX_REPORT_BYTES: usize = 512 * 1024;
/// The most items a report may carry.
const MAX_ITEMS: usize = 64;
/// The most facts one item may carry.
const MAX_EVIDENCE: usize = 2000;
/// The longest id, title or source of an item, and the longest fact.
const MAX_TEXT: usize = 4096;

/// How an item came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Status {
    Pass,
    Warn,
    Fail,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Summary {
    pass: u32,
    warn: u32,
    fail: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Evidence {
    status: Status,
    text: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Item {
    id: String,
    title: String,
    status: Status,
    evidence: Vec<Evidence>,
    source: String,
}

/// The parts of a report that are checked; the others (`rampart_version`,
/// `url`, the reviewed `users`) are kept as sent.
#[derive(Debug, Deserialize)]
struct ReportShape {
    generated_at: String,
    summary: Summary,
    items: Vec<Item>,
}

/// A report that passed every check, with what is stored beside it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ParsedReport {
    generated_at: DateTime<Utc>,
    pass: u32,
    warn: u32,
    fail: u32,
}

/// Checks `json` is a checklist report; the error says what is wrong.
pub(crate) fn parse_report(json: &str) -> Result<ParsedReport, Error> {
    if json.len() > MAX_REPORT_BYTES {
        return Err(Error::InvalidArgument(format!(
            "the report must be at most {MAX_REPORT_BYTES} bytes"
        )));
    }
    let report: ReportShape = serde_json::from_str(json).map_err(|e| {
        Error::InvalidArgument(format!("the report is not a checklist report: {e}"))
    })?;
    let invalid = |what: String| Err(Error::InvalidArgument(format!("the report's {what}")));
    let generated_at = match DateTime::parse_from_rfc3339(&report.generated_at) {
        Ok(at) => at.with_timezone(&Utc),
        Err(_) => return invalid("generated_at is not an RFC 3339 time".to_owned()),
    };
    if report.items.is_empty() || report.items.len() > MAX_ITEMS {
        return invalid(format!("items must number 1 to {MAX_ITEMS}"));
    }
    let (mut pass, mut warn, mut fail) = (0u32, 0u32, 0u32);
    for (index, item) in report.items.iter().enumerate() {
        let texts = [&item.id, &item.title, &item.source];
        if item.id.is_empty() || texts.iter().any(|text| text.len() > MAX_TEXT) {
            return invalid(format!(
                "item {index} needs an id, and an id, title and source of at most {MAX_TEXT} bytes"
            ));
        }
        if item.evidence.len() > MAX_EVIDENCE
            || item.evidence.iter().any(|fact| fact.text.len() > MAX_TEXT)
        {
            return invalid(format!(
                "item {index} may carry at most {MAX_EVIDENCE} facts of at most {MAX_TEXT} bytes"
            ));
        }
        // An item is as bad as its worst fact: a report saying "pass"
        // over a failed fact is not what the command writes.
        let worst = item
            .evidence
            .iter()
            .map(|fact| fact.status)
            .max_by_key(|status| *status as u8)
            .unwrap_or(Status::Pass);
        if worst != item.status {
            return invalid(format!(
                "item {index} ({}) has status {:?} but its worst fact is {worst:?}",
                item.id, item.status
            ));
        }
        match item.status {
            Status::Pass => pass += 1,
            Status::Warn => warn += 1,
            Status::Fail => fail += 1,
        }
    }
    let summary = &report.summary;
    if (summary.pass, summary.warn, summary.fail) != (pass, warn, fail) {
        return invalid(format!(
            "summary ({} pass, {} warn, {} fail) does not count its items ({pass} pass, {warn} warn, {fail} fail)",
            summary.pass, summary.warn, summary.fail
        ));
    }
    Ok(ParsedReport {
        generated_at,
        pass,
        warn,
        fail,
    })
}

/// Stores and reads the reports.
#[derive(Debug, Clone)]
pub(crate) struct ChecklistReports {
    db: DatabaseConnection,
    outbox: Outbox,
}

impl ChecklistReports {
    pub(crate) fn new(db: DatabaseConnection, outbox: Outbox) -> Self {
        Self { db, outbox }
    }

    /// Stores `json` on behalf of `principal` (a platform admin), with one
    /// `checklist.completed` audit event.
    pub(crate) async fn store(
        &self,
        principal: &Principal,
        json: String,
    ) -> Result<checklist_report::Model, Error> {
        principal.require_platform_admin()?;
        let parsed = parse_report(&json)?;
        let digest = ring::digest::digest(&ring::digest::SHA256, json.as_bytes());
        let model = checklist_report::Model {
            id: format!("chk_{}", uuid::Uuid::now_v7().simple()),
            generated_at: parsed.generated_at,
            stored_at: Utc::now(),
            stored_by: principal.actor(),
            sha256: rampart_kit::secret::hex(digest.as_ref()),
            pass: <i32 as TryFrom<u32>>::try_from(parsed.pass).unwrap_or(i32::MAX),
            warn: <i32 as TryFrom<u32>>::try_from(parsed.warn).unwrap_or(i32::MAX),
            fail: <i32 as TryFrom<u32>>::try_from(parsed.fail).unwrap_or(i32::MAX),
            report_json: json,
            audit_event_id: String::new(),
        };
        let record = AuditRecord::success(
            principal,
            None,
            "checklist.completed",
            format!("checklist_report:{}", model.id),
        )
        .with_detail("generated_at", report_time(&model))
        .with_detail("pass", parsed.pass.to_string())
        .with_detail("warn", parsed.warn.to_string())
        .with_detail("fail", parsed.fail.to_string())
        .with_detail("sha256", model.sha256.as_str());
        // The row names its event, so a reader goes from the report to
        // the event (and its proof) in the log.
        let mut model = model;
        model.audit_event_id = record.event_id.clone();
        let mut change = self.outbox.begin(&self.db).await?;
        checklist_report::Entity::insert(model.clone().into_active_model())
            .exec(change.tx())
            .await?;
        change.audit(record);
        change.commit().await?;
        tracing::info!(
            report_id = %model.id,
            fail = parsed.fail,
            request_id = %principal.request_id,
            "checklist report stored"
        );
        Ok(model)
    }

    /// The report stored last.
    pub(crate) async fn latest(
        &self,
        principal: &Principal,
    ) -> Result<checklist_report::Model, Error> {
        principal.require_platform_admin()?;
        // Ids are UUIDv7, ordered by time, so the greatest is the latest
        // even when two land in the same instant.
        checklist_report::Entity::find()
            .order_by_desc(checklist_report::Column::StoredAt)
            .order_by_desc(checklist_report::Column::Id)
            .one(&self.db)
            .await?
            .ok_or(Error::NotFound("checklist report"))
    }
}

/// A report's generation time as the wire and the audit event carry it.
pub(crate) fn report_time(model: &checklist_report::Model) -> String {
    model
        .generated_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The `auth_checklist_report` table.
pub(crate) struct CreateChecklistReports;

impl MigrationName for CreateChecklistReports {
    fn name(&self) -> &str {
        "m0008_checklist_reports"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for CreateChecklistReports {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("auth_checklist_report")
                    .col(ColumnDef::new("id").string_len(64).not_null().primary_key())
                    .col(
                        ColumnDef::new("generated_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new("stored_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new("stored_by").string_len(256).not_null())
                    .col(ColumnDef::new("sha256").string_len(64).not_null())
                    .col(ColumnDef::new("pass").integer().not_null())
                    .col(ColumnDef::new("warn").integer().not_null())
                    .col(ColumnDef::new("fail").integer().not_null())
                    .col(ColumnDef::new("report_json").text().not_null())
                    .col(ColumnDef::new("audit_event_id").string_len(64).not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("auth_checklist_report_stored_at")
                    .table("auth_checklist_report")
                    .col("stored_at")
                    .to_owned(),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(items: serde_json::Value, summary: serde_json::Value) -> String {
        serde_json::json!({
            "generated_at": "2026-12-01T10:00:00Z",
            "rampart_version": "0.1.0",
            "url": "https://127.0.0.1:8443",
            "summary": summary,
            "items": items,
            "users": [],
        })
        .to_string()
    }

    fn item(status: &str, facts: &[&str]) -> serde_json::Value {
        serde_json::json!({
            "id": "backup", "title": "Backup", "status": status, "source": "x",
            "evidence": facts.iter().map(|s| serde_json::json!({"status": s, "text": "t"})).collect::<Vec<_>>(),
        })
    }

    #[test]
    fn a_report_the_command_writes_is_accepted() {
        let json = report(
            serde_json::json!([item("pass", &["pass"]), item("fail", &["pass", "fail"])]),
            serde_json::json!({"pass": 1, "warn": 0, "fail": 1}),
        );
        let parsed = parse_report(&json).unwrap();
        assert_eq!((parsed.pass, parsed.warn, parsed.fail), (1, 0, 1));
    }

    #[test]
    fn forged_or_malformed_reports_are_refused() {
        let good_items = serde_json::json!([item("warn", &["pass", "warn"])]);
        let cases = [
            // The summary hides a failure.
            report(
                serde_json::json!([item("fail", &["fail"])]),
                serde_json::json!({"pass": 1, "warn": 0, "fail": 0}),
            ),
            // An item claims pass over a failed fact.
            report(
                serde_json::json!([item("pass", &["fail"])]),
                serde_json::json!({"pass": 1, "warn": 0, "fail": 0}),
            ),
            // No items.
            report(
                serde_json::json!([]),
                serde_json::json!({"pass": 0, "warn": 0, "fail": 0}),
            ),
            // A status that is none of the three.
            report(
                serde_json::json!([item("ok", &[])]),
                serde_json::json!({"pass": 1, "warn": 0, "fail": 0}),
            ),
            report(good_items.clone(), serde_json::json!({"pass": 0})),
            report(good_items, serde_json::json!("all good")),
            "{\"generated_at\": \"yesterday\"}".to_owned(),
            "not json".to_owned(),
        ];
        for json in cases {
            assert!(
                matches!(parse_report(&json), Err(Error::InvalidArgument(_))),
                "{json}"
            );
        }
        let huge = report(
            serde_json::json!([item("pass", &["pass"])]),
            serde_json::json!({"pass": 1, "warn": 0, "fail": 0, "padding": "x".repeat(MAX_REPORT_BYTES)}),
        );
        assert!(parse_report(&huge).is_err());
    }
}
