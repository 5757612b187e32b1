//! Whose data a query sees: one tenant's, in one data mode.
//!
//! A `rk_test_` key works in its tenant's test mode (see
//! [`rampart_kit::principal::DataMode`]): the decisions its conversations get
//! and the handoffs they open are invisible to live credentials, and live
//! ones are invisible to it. The scope is built from the caller's principal
//! ([`DataScope::of`]), never from a request body, and every decision and
//! handoff query filters by both its parts. Policies are the tenant's,
//! shared by both modes.

use rampart_kit::ids::TenantId;
use rampart_kit::principal::{DataMode, Principal};
use tonic::Status;

/// One tenant's data in one mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataScope {
    pub tenant_id: TenantId,
    pub mode: DataMode,
}

impl DataScope {
    /// The scope a tenant principal acts in; PermissionDenied for anyone
    /// else.
    pub fn of(principal: &Principal) -> Result<Self, Status> {
        Ok(Self {
            tenant_id: principal.require_tenant()?.clone(),
            mode: principal.mode,
        })
    }

    /// A tenant's live data.
    #[must_use]
    pub fn live(tenant_id: TenantId) -> Self {
        Self {
            tenant_id,
            mode: DataMode::Live,
        }
    }

    /// The `mode` column's value.
    #[must_use]
    pub fn mode_column(&self) -> &'static str {
        self.mode.as_str()
    }
}

#[cfg(test)]
mod tests {
    use rampart_kit::testing::{admin_principal, tenant_principal};

    use super::*;

    #[test]
    fn the_scope_is_the_principal_s_tenant_and_mode() {
        let tenant = TenantId::generate();
        let live = tenant_principal(&tenant);
        assert_eq!(
            DataScope::of(&live).unwrap(),
            DataScope::live(tenant.clone())
        );
        let test = DataScope::of(&live.in_mode(DataMode::Test)).unwrap();
        assert_eq!((test.mode_column(), test.tenant_id), ("test", tenant));
        assert!(DataScope::of(&admin_principal()).is_err());
    }
}
