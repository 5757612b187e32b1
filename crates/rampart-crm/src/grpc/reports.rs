//! `GetActivitySummary`: a manager's counts of the tenant's activity over
//! a period. Business settings and reports are a manager's work, so the
//! rule is the settings one: a manager or owner session, or a key with the
//! `settings` scope. Agents are refused.

use chrono::SecondsFormat;
use rampart_kit::principal::{Principal, Role, Scope};
use rampart_proto::crm::v1 as proto;
use tonic::{Request, Status};

use super::CrmApi;
use super::owner::authorise;
use crate::domain::ReportPeriod;
use crate::store::{DataScope, count_activity};

impl CrmApi {
    pub(super) async fn activity_summary(
        &self,
        request: Request<proto::ActivitySummaryRequest>,
    ) -> Result<proto::ActivitySummary, Status> {
        let principal = Principal::from_request(&request)?;
        let scope = DataScope::of(&principal)?;
        authorise(&principal, Role::Manager, Scope::Settings)?;
        let request = request.into_inner();
        let period = ReportPeriod::parse(&request.from, &request.to, chrono::Utc::now())?;
        let counts = count_activity(&self.db, &scope, &period).await?;
        let timestamp =
            |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(SecondsFormat::Micros, true);
        Ok(proto::ActivitySummary {
            from: timestamp(period.from()),
            to: timestamp(period.to()),
            customers_total: counts.customers_total,
            customers_created: counts.customers_created,
            conversations_started: counts.conversations_started,
            conversations_by_status: counts.conversations_by_status.into_iter().collect(),
            conversations_by_channel: counts.conversations_by_channel.into_iter().collect(),
            appointments: counts.appointments,
            appointments_by_status: counts.appointments_by_status.into_iter().collect(),
            job_notes: counts.job_notes,
        })
    }
}
