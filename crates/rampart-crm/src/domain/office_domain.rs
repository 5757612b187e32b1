//! Office domains: the email domains of a tenant's own staff, such as
//! `acme-plumbing.com`, later used to decide which sign-ins belong to it.
//!
//! A domain is a DNS host name in its lowercase, ASCII form: labels of 1 to
//! 63 characters from `[a-z0-9-]` that neither start nor end with `-`, at
//! least two labels, at most 253 characters in all, and no trailing dot.
//! Internationalised names arrive in their `xn--` form. An all-numeric last
//! label is refused, so that an IP address cannot pass as a domain.

use super::InvalidInput;

const MAX_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// Checks that `name` (already lowercased) is a DNS host name as described in
/// the module docs; the error is the rule it broke, for an [`InvalidInput`].
pub(crate) fn check_dns_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("must not be empty");
    }
    if name.len() > MAX_LEN {
        return Err("must be at most 253 characters");
    }
    if !name.contains('.') {
        return Err("must contain at least one dot");
    }
    let mut last_label = "";
    for label in name.split('.') {
        if label.is_empty() || label.len() > MAX_LABEL_LEN {
            return Err("must have labels of 1 to 63 characters");
        }
        let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
        if !label.bytes().all(allowed) {
            return Err("may contain only letters, digits, hyphens and dots");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("must not have labels starting or ending with a hyphen");
        }
        last_label = label;
    }
    if last_label.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must not end in an all-numeric label");
    }
    Ok(())
}

/// One of a tenant's office email domains, lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OfficeDomain(String);

impl OfficeDomain {
    /// Parses the domain at `field` (such as `office_domains[0]`), so the
    /// message points at the entry that failed.
    pub fn parse(field: String, raw: &str) -> Result<Self, InvalidInput> {
        let lowered = raw.trim().to_ascii_lowercase();
        check_dns_name(&lowered).map_err(|problem| InvalidInput::new(field, problem))?;
        Ok(Self(lowered))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<OfficeDomain, InvalidInput> {
        OfficeDomain::parse("office_domains[0]".to_owned(), raw)
    }

    #[test]
    fn ordinary_domains_are_accepted_and_lowercased() {
        assert_eq!(
            parse("Acme-Plumbing.COM").unwrap().as_str(),
            "acme-plumbing.com"
        );
        assert_eq!(
            parse(" mail.example.co.uk ").unwrap().as_str(),
            "mail.example.co.uk"
        );
        assert_eq!(
            parse("xn--bcher-kva.example").unwrap().as_str(),
            "xn--bcher-kva.example"
        );
        assert_eq!(parse("3com.com").unwrap().as_str(), "3com.com");
    }

    #[test]
    fn names_without_a_dot_are_refused() {
        let error = parse("localhost").unwrap_err();
        assert_eq!(
            error.to_string(),
            "office_domains[0] must contain at least one dot"
        );
    }

    #[test]
    fn malformed_labels_are_refused() {
        for raw in [
            "",
            ".",
            "example.com.",
            ".example.com",
            "a..example.com",
            "-acme.com",
            "acme-.com",
            "acme.-com",
            "under_score.com",
            "spa ce.com",
            "bücher.de",
            "acme.com/path",
            "user@acme.com",
        ] {
            let error = parse(raw).unwrap_err();
            assert_eq!(error.field(), "office_domains[0]", "{raw:?}");
        }
    }

    #[test]
    fn label_length_is_bounded() {
        let longest = format!("{}.com", "a".repeat(63));
        assert!(parse(&longest).is_ok());
        let too_long = format!("{}.com", "a".repeat(64));
        assert_eq!(
            parse(&too_long).unwrap_err().to_string(),
            "office_domains[0] must have labels of 1 to 63 characters"
        );
    }

    #[test]
    fn total_length_is_bounded() {
        // Four labels of 61 characters, each followed by a dot, make 248.
        let label = "a".repeat(61);
        let at_limit = format!("{label}.{label}.{label}.{label}.abcde");
        assert_eq!(at_limit.len(), 253);
        assert!(parse(&at_limit).is_ok());
        let over = format!("{label}.{label}.{label}.{label}.abcdef");
        assert_eq!(
            parse(&over).unwrap_err().to_string(),
            "office_domains[0] must be at most 253 characters"
        );
    }

    #[test]
    fn ip_addresses_are_not_domains() {
        assert!(parse("192.168.0.1").is_err());
        assert!(parse("10.0.0.1").is_err());
    }
}
