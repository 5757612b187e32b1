//! The sea-orm entities of the tables the handoff queue reads and writes:
//! `esc_handoff`, `esc_notification`, and (read only, for the policy a
//! handoff started with and the webhook secret) `esc_policy`.

pub mod handoff {
    //! `esc_handoff`: one handoff, open until a person resolves it or
    //! hands it back.

    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "esc_handoff")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant_id: String,
        /// `live` or `test`: the data mode of the conversation it is for.
        /// A test-mode handoff is seen only in test mode and notifies
        /// nobody.
        pub mode: String,
        pub conversation_id: String,
        pub message_id: String,
        /// The conversation id while open or claimed; NULL once closed.
        pub open_key: Option<String>,
        pub status: String,
        /// 1 (low) to 4 (critical).
        pub severity: i16,
        /// JSON arrays of strings.
        pub intents: String,
        pub reasons: String,
        pub policy_version: i32,
        pub level: i32,
        pub round: i32,
        pub assignee: Option<String>,
        pub opened_at: DateTimeUtc,
        pub due_at: DateTimeUtc,
        pub next_escalation_at: Option<DateTimeUtc>,
        pub closed_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod notification {
    //! `esc_notification`: one notification to one contact (an e-mail
    //! address) or to the tenant's webhook, waiting to be delivered.

    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "esc_notification")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub tenant_id: String,
        pub handoff_id: String,
        /// `webhook` or `email`.
        pub channel: String,
        /// The URL or the e-mail address.
        pub target: String,
        /// The JSON event (ids, severity, level; never message text).
        pub payload: String,
        pub attempts: i32,
        pub next_attempt_at: DateTimeUtc,
        pub delivered_at: Option<DateTimeUtc>,
        pub failed_at: Option<DateTimeUtc>,
        pub last_error: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod policy {
    //! `esc_policy`, read only here: the policy store writes it.

    use std::fmt;

    use sea_orm::entity::prelude::*;

    #[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "esc_policy")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub version: i32,
        pub document: String,
        /// The webhook signing secret: never printed.
        pub webhook_secret: Option<String>,
        pub created_at: DateTimeUtc,
        pub created_by: String,
    }

    /// Leaves the document and the secret out.
    impl fmt::Debug for Model {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Model")
                .field("tenant_id", &self.tenant_id)
                .field("version", &self.version)
                .finish_non_exhaustive()
        }
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
