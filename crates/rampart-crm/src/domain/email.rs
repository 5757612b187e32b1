//! Email addresses of customers.
//!
//! Not the whole of RFC 5322 (quoted local parts, comments and address
//! literals are legal there and almost only seen in attacks and test
//! suites), but the shape every mail provider hands out: a dot-atom local
//! part of at most 64 characters, one `@`, and a DNS host name as the domain.
//! The domain is case-insensitive and stored lowercased; the local part is
//! kept as given, because in principle it is case-sensitive.

use super::InvalidInput;
use super::office_domain::check_dns_name;

const FIELD: &str = "email";
/// The longest address that fits in an SMTP path (RFC 5321 §4.5.3.1.3).
const MAX_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;

/// A customer's email address: personal data, so its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidInput> {
        let invalid = |problem| InvalidInput::new(FIELD, problem);
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(invalid("must not be empty"));
        }
        if trimmed.len() > MAX_LEN {
            return Err(invalid("must be at most 254 characters"));
        }
        let mut parts = trimmed.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid("must contain exactly one @"));
        };
        check_local_part(local).map_err(invalid)?;
        let domain = domain.to_ascii_lowercase();
        check_dns_name(&domain).map_err(|_| invalid("must have a valid domain after the @"))?;
        Ok(Self(format!("{local}@{domain}")))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn into_string(self) -> String {
        self.0
    }
}

/// A dot-atom: atext characters in runs separated by single dots.
fn check_local_part(local: &str) -> Result<(), &'static str> {
    if local.is_empty() {
        return Err("must have a name before the @");
    }
    if local.len() > MAX_LOCAL_LEN {
        return Err("must have at most 64 characters before the @");
    }
    let atext = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b);
    if !local.bytes().all(|b| atext(b) || b == b'.') {
        return Err("contains characters not allowed before the @");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err("must not have a leading, trailing or doubled dot before the @");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_are_accepted() {
        for raw in [
            "ada@example.com",
            "first.last@mail.example.co.uk",
            "user+tag@example.org",
            "o'brien@example.ie",
            "x@a1.io",
        ] {
            assert_eq!(Email::parse(raw).unwrap().as_str(), raw);
        }
    }

    #[test]
    fn the_domain_is_lowercased_and_the_local_part_kept() {
        assert_eq!(
            Email::parse(" Ada.L@Example.COM ").unwrap().as_str(),
            "Ada.L@example.com"
        );
    }

    #[test]
    fn exactly_one_at_sign_is_required() {
        for raw in ["ada.example.com", "ada@@example.com", "a@b@example.com"] {
            assert_eq!(
                Email::parse(raw).unwrap_err().to_string(),
                "email must contain exactly one @",
                "{raw:?}"
            );
        }
    }

    #[test]
    fn bad_local_parts_are_refused() {
        for raw in [
            "@example.com",
            ".ada@example.com",
            "ada.@example.com",
            "a..da@example.com",
            "ad a@example.com",
            "ada\"@example.com",
            "adé@example.com",
            "a(b)@example.com",
        ] {
            let error = Email::parse(raw).unwrap_err();
            assert_eq!(error.field(), "email", "{raw:?}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        assert!(Email::parse(&long_local).is_err());
        let longest_local = format!("{}@example.com", "a".repeat(64));
        assert!(Email::parse(&longest_local).is_ok());
    }

    #[test]
    fn bad_domains_are_refused() {
        for raw in [
            "ada@",
            "ada@localhost",
            "ada@example..com",
            "ada@-example.com",
            "ada@exa_mple.com",
            "ada@example.com.",
            "ada@[127.0.0.1]",
            "ada@127.0.0.1",
        ] {
            assert_eq!(
                Email::parse(raw).unwrap_err().to_string(),
                "email must have a valid domain after the @",
                "{raw:?}"
            );
        }
    }

    #[test]
    fn overall_length_is_bounded() {
        let label = "a".repeat(60);
        let domain = format!("{label}.{label}.{label}.example.com");
        let at_limit = format!("{}@{domain}", "b".repeat(254 - 1 - domain.len()));
        assert_eq!(at_limit.len(), 254);
        assert!(Email::parse(&at_limit).is_ok());
        let over = format!("b{at_limit}");
        assert_eq!(
            Email::parse(&over).unwrap_err().to_string(),
            "email must be at most 254 characters"
        );
    }

    #[test]
    fn empty_input_is_refused() {
        assert_eq!(
            Email::parse("  ").unwrap_err().to_string(),
            "email must not be empty"
        );
    }

    #[test]
    fn addresses_do_not_show_in_debug_output() {
        assert_eq!(
            format!("{:?}", Email::parse("ada@example.com").unwrap()),
            "Email(..)"
        );
    }
}
