//! `crm_job_run`: when each scheduled job last started, so that with
//! several CRM instances on one database a scheduled run is claimed by one
//! of them (see [`crate::retention_job::run_scheduled_retention`]).

use sea_orm_migration::prelude::*;

pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0012_job_runs"
    }
}

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("crm_job_run")
                    .if_not_exists()
                    .col(
                        ColumnDef::new("job")
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new("started_at")
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }
}
