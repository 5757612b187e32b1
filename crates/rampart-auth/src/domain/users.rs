//! The parsed inputs about people: emails, where an account lives, roles.

use rampart_kit::ids::TenantId;
use rampart_kit::principal::Role;

use crate::error::Error;

/// The `scope` of platform admins in `auth_user`.
pub const PLATFORM_SCOPE: &str = "platform";
const MAX_EMAIL: usize = 254;

/// An email address, trimmed and lowercased, of a plausible shape. Whether
/// mail reaches it is not this type's business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Self, Error> {
        let email = text.trim().to_lowercase();
        let invalid = || Error::InvalidArgument("email is not a valid email address".to_owned());
        if email.is_empty()
            || email.len() > MAX_EMAIL
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@');
        if local.is_empty() || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// Whether the domain is one of `domains` or below one of them.
    #[must_use]
    pub fn in_domains(&self, domains: &[String]) -> bool {
        let domain = self.domain();
        domains.iter().any(|allowed| {
            let allowed = allowed.trim().trim_start_matches('@').to_lowercase();
            !allowed.is_empty() && (domain == allowed || domain.ends_with(&format!(".{allowed}")))
        })
    }
}

/// Where an account lives: among the platform admins or in one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Platform,
    Tenant(TenantId),
}

impl Scope {
    #[must_use]
    pub fn key(&self) -> &str {
        match self {
            Self::Platform => PLATFORM_SCOPE,
            Self::Tenant(tenant) => tenant.as_str(),
        }
    }

    #[must_use]
    pub fn tenant(&self) -> Option<&TenantId> {
        match self {
            Self::Platform => None,
            Self::Tenant(tenant) => Some(tenant),
        }
    }
}

/// Parses a requested tenant role; empty means agent, least privilege.
pub fn parse_tenant_role(text: &str) -> Result<Role, Error> {
    if text.is_empty() {
        return Ok(Role::Agent);
    }
    Role::parse(text)
        .filter(|role| *role != Role::Admin)
        .ok_or_else(|| {
            Error::InvalidArgument("role must be \"owner\", \"manager\" or \"agent\"".to_owned())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_folded_and_checked() {
        assert_eq!(
            Email::parse("  Jane.Doe@Acme.Example ").unwrap().as_str(),
            "jane.doe@acme.example"
        );
        for bad in [
            "",
            "jane",
            "@acme.example",
            "jane@",
            "jane@acme",
            "ja ne@acme.example",
            "a@b@c.d",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@acme.example", "a".repeat(250))).is_err());
    }

    #[test]
    fn office_domains_match_exactly_or_below() {
        let domains = vec!["corp.example".to_owned()];
        assert!(Email::parse("a@corp.example").unwrap().in_domains(&domains));
        assert!(
            Email::parse("a@eu.corp.example")
                .unwrap()
                .in_domains(&domains)
        );
        assert!(
            !Email::parse("a@evilcorp.example")
                .unwrap()
                .in_domains(&domains)
        );
        assert!(
            !Email::parse("a@corp.example.evil")
                .unwrap()
                .in_domains(&domains)
        );
        assert!(!Email::parse("a@corp.example").unwrap().in_domains(&[]));
    }

    #[test]
    fn tenant_roles_default_to_agent_and_exclude_admin() {
        assert_eq!(parse_tenant_role("").unwrap(), Role::Agent);
        assert_eq!(parse_tenant_role("owner").unwrap(), Role::Owner);
        assert!(parse_tenant_role("admin").is_err());
        assert!(parse_tenant_role("Owner").is_err());
    }
}
