//! Generated gRPC clients, servers and messages for Rampart's internal
//! contracts. The sources are the `.proto` files under `proto/` at the
//! workspace root; nothing here is written by hand, but for [`redacted`]
//! (the `Debug` of the messages that carry a secret) and [`local`] (what
//! the generated in-process handles share).

#![allow(clippy::all, clippy::pedantic, missing_docs, unreachable_pub)]

pub mod auth {
    pub mod v1 {
        tonic::include_proto!("rampart.auth.v1");
    }
}

pub mod crm {
    pub mod v1 {
        tonic::include_proto!("rampart.crm.v1");
    }
}

pub mod escalation {
    pub mod v1 {
        tonic::include_proto!("rampart.escalation.v1");
    }
}

pub mod audit {
    pub mod v1 {
        tonic::include_proto!("rampart.audit.v1");
    }
}

pub mod local;
mod redacted;
