//! `crm_data_key` keyed by what every read and write looks it up by.
//!
//! m0005 gave the table a primary key on the key's id (which nothing looks
//! up: it travels inside ciphertexts) and a unique index on (tenant, owner)
//! (which every read uses). Each new customer therefore wrote three B-trees
//! on SQLite (the rowid table, the id index and the owner index) and a heap
//! plus two indexes on PostgreSQL, for one small row. The table is rebuilt
//! with (tenant, owner) as its primary key: on SQLite a `WITHOUT ROWID`
//! table, one B-tree in all; on PostgreSQL one index. The id stays a
//! column: ciphertexts still name the key they were made under.

use sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::prelude::*;

pub(super) struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0011_data_key_primary_key"
    }
}

const COLUMNS: [&str; 5] = ["tenant_id", "owner", "id", "wrapped_key", "created_at"];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut table = Table::create()
            .table("crm_data_key_rebuilt")
            .col(ColumnDef::new("tenant_id").string_len(64).not_null())
            .col(ColumnDef::new("owner").string_len(200).not_null())
            .col(ColumnDef::new("id").string_len(32).not_null())
            .col(ColumnDef::new("wrapped_key").blob().not_null())
            .col(
                ColumnDef::new("created_at")
                    .timestamp_with_time_zone()
                    .not_null(),
            )
            .primary_key(Index::create().col("tenant_id").col("owner"))
            .to_owned();
        let backend = manager.get_database_backend();
        if backend == DatabaseBackend::Sqlite {
            table.extra("WITHOUT ROWID");
        }
        let copy = Query::insert()
            .into_table("crm_data_key_rebuilt")
            .columns(COLUMNS)
            .select_from(
                Query::select()
                    .columns(COLUMNS)
                    .from("crm_data_key")
                    .to_owned(),
            )
            .map_err(|error| DbErr::Migration(error.to_string()))?
            .to_owned();
        let remove = Table::drop().table("crm_data_key").to_owned();
        let rename = Table::rename()
            .table("crm_data_key_rebuilt", "crm_data_key")
            .to_owned();
        // One batch on one connection: on SQLite the schema manager's
        // statements may each take another pooled connection, and one still
        // reading an older snapshot saw the dropped table and refused the
        // rename.
        let batch = [
            backend.build(&table).to_string(),
            backend.build(&copy).to_string(),
            backend.build(&remove).to_string(),
            backend.build(&rename).to_string(),
        ]
        .join(";\n");
        manager
            .get_connection()
            .execute_unprepared(&batch)
            .await
            .map(|_| ())
    }
}
