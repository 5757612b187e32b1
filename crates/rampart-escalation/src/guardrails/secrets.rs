//! Secrets and key-like strings: Rampart's own API keys, AWS access keys,
//! GitHub, Slack, Stripe and Google API tokens, JWTs, PEM private keys,
//! and a credential written after "password:", "secret=" and the like.
//!
//! Each finding's span covers the whole secret, so the masked reply keeps
//! none of it; its reason names the format, never the value.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{Kind, Span, runs};

/// A token format: its prefix, the characters its body may use, the
/// shortest body, and what to call it.
type Format = (&'static str, fn(char) -> bool, usize, &'static str);

const PREFIXED: &[Format] = &[
    ("rk_live_", is_alnum, 16, "a Rampart API key"),
    ("rk_test_", is_alnum, 16, "a Rampart API key"),
    ("rk_admin_", is_alnum, 16, "a Rampart admin key"),
    ("rk_pub_", is_alnum, 16, "a Rampart widget key"),
    ("sk_live_", is_alnum, 16, "a Stripe secret key"),
    ("sk_test_", is_alnum, 16, "a Stripe secret key"),
    ("ghp_", is_alnum, 30, "a GitHub token"),
    ("gho_", is_alnum, 30, "a GitHub token"),
    ("ghu_", is_alnum, 30, "a GitHub token"),
    ("ghs_", is_alnum, 30, "a GitHub token"),
    ("ghr_", is_alnum, 30, "a GitHub token"),
    ("github_pat_", is_word, 20, "a GitHub token"),
    ("xoxb-", is_slack, 10, "a Slack token"),
    ("xoxp-", is_slack, 10, "a Slack token"),
    ("xoxa-", is_slack, 10, "a Slack token"),
    ("xoxr-", is_slack, 10, "a Slack token"),
    ("xoxs-", is_slack, 10, "a Slack token"),
    ("AIza", is_word_or_dash, 30, "a Google API key"),
];

/// Words after which the next word is taken for a credential.
const CREDENTIAL_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passcode",
    "secret",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "access_key",
    "private_key",
];

fn is_alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_word_or_dash(c: char) -> bool {
    is_word(c) || c == '-'
}

fn is_slack(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

/// Characters a token may be made of (base64, base64url, JWT dots).
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '+' | '=')
}

/// Every secret in `text`.
#[must_use]
pub fn find(text: &str) -> Vec<Span> {
    let mut spans = private_keys(text);
    for range in runs(text, is_token_char) {
        // A sentence's full stop or a trailing dash is not part of a token.
        let token = text[range.clone()].trim_end_matches(['.', '-']);
        let token = token.trim_start_matches(['.', '-']);
        if token.is_empty() {
            continue;
        }
        let start = range.start + text[range.clone()].find(token).unwrap_or(0);
        let token_range = start..start + token.len();
        if let Some(reason) = classify(token) {
            spans.push(Span::new(token_range, Kind::Secret, reason));
        }
    }
    spans.extend(after_credential_words(text));
    spans
}

/// What kind of secret a token is, if it is one.
fn classify(token: &str) -> Option<&'static str> {
    for (prefix, body_char, shortest, name) in PREFIXED {
        if let Some(body) = token.strip_prefix(prefix) {
            let body_len = body.chars().take_while(|c| body_char(*c)).count();
            if body_len >= *shortest {
                return Some(name);
            }
        }
    }
    // Embedded prefixes ("key=rk_live_...") are found from the prefix on.
    for (prefix, body_char, shortest, name) in PREFIXED {
        if let Some(at) = token.find(prefix)
            && at > 0
        {
            let body = &token[at + prefix.len()..];
            if body.chars().take_while(|c| body_char(*c)).count() >= *shortest {
                return Some(name);
            }
        }
    }
    if is_aws_access_key(token) {
        return Some("an AWS access key");
    }
    if is_jwt(token) {
        return Some("a JSON Web Token");
    }
    None
}

/// `AKIA` or `ASIA` and 16 upper-case letters or digits.
fn is_aws_access_key(token: &str) -> bool {
    token.len() == 20
        && (token.starts_with("AKIA") || token.starts_with("ASIA"))
        && token[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// Three base64url parts whose first decodes to a JSON object with `alg`.
fn is_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 || !parts[0].starts_with("eyJ") || parts[1].is_empty() {
        return false;
    }
    let Ok(header) = URL_SAFE_NO_PAD.decode(parts[0].trim_end_matches('=')) else {
        return false;
    };
    serde_json::from_slice::<serde_json::Value>(&header)
        .ok()
        .and_then(|value| value.as_object().map(|o| o.contains_key("alg")))
        .unwrap_or(false)
}

/// `-----BEGIN ... PRIVATE KEY-----` to its END line, or to the end of the
/// reply when the END line is missing (a cut-off key is still a key).
fn private_keys(text: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("-----BEGIN ") {
        let start = from + at;
        let header_end = text[start + 11..].find("-----").map(|n| start + 11 + n);
        let Some(header_end) = header_end else {
            break;
        };
        let label = &text[start + 11..header_end];
        if !label.ends_with("PRIVATE KEY") {
            from = header_end;
            continue;
        }
        let end = text[header_end + 5..]
            .find("-----END ")
            .and_then(|n| {
                let end_start = header_end + 5 + n;
                text[end_start + 9..]
                    .find("-----")
                    .map(|m| end_start + 9 + m + 5)
            })
            .unwrap_or(text.len());
        spans.push(Span::new(start..end, Kind::Secret, "a PEM private key"));
        from = end;
    }
    spans
}

/// The word after "password:", "secret=", "token is" and the like, when it
/// looks like a credential rather than prose: 8 characters or more, mixing
/// letters with digits or symbols.
fn after_credential_words(text: &str) -> Vec<Span> {
    let lower = text.to_ascii_lowercase();
    let mut spans = Vec::new();
    for word in CREDENTIAL_WORDS {
        let mut from = 0;
        while let Some(at) = lower[from..].find(word) {
            let start = from + at;
            from = start + word.len();
            let before_ok = lower[..start]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_ascii_alphanumeric());
            if !before_ok {
                continue;
            }
            // The separator: ':' or '=' (with spaces or quotes around), or
            // " is ".
            let rest = &text[from..];
            let trimmed = rest.trim_start_matches([' ', '"', '\'']);
            let after_separator = if let Some(value) = trimmed.strip_prefix([':', '=']) {
                value
            } else if let Some(value) = trimmed.strip_prefix("is ") {
                value
            } else {
                continue;
            };
            let value = after_separator.trim_start_matches([' ', '"', '\'', '`']);
            let value_start = text.len() - value.len();
            let len = value
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | ',' | ';'))
                .unwrap_or(value.len());
            let candidate = value[..len].trim_end_matches('.');
            if looks_like_credential(candidate) {
                spans.push(Span::new(
                    value_start..value_start + candidate.len(),
                    Kind::Secret,
                    format!("a credential after \"{word}\""),
                ));
            }
        }
    }
    spans
}

fn looks_like_credential(value: &str) -> bool {
    let classes = [
        value.chars().any(|c| c.is_ascii_lowercase()),
        value.chars().any(|c| c.is_ascii_uppercase()),
        value.chars().any(|c| c.is_ascii_digit()),
        value.chars().any(|c| !c.is_alphanumeric()),
    ];
    let mixed = classes.iter().filter(|held| **held).count() >= 2;
    value.chars().count() >= 8 && mixed && value != "[redacted]"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<String> {
        find(text)
            .into_iter()
            .map(|span| {
                assert_eq!(span.finding.kind, Kind::Secret);
                text[span.range].to_owned()
            })
            .collect()
    }

    #[test]
    fn rampart_keys_of_every_kind() {
        let key =
            rampart_kit::api_key::PlaintextApiKey::generate(rampart_kit::api_key::KeyKind::Live);
        let key = key.expose().to_owned();
        assert_eq!(found(&format!("use {key}.")), std::slice::from_ref(&key));
        for prefix in ["rk_test_", "rk_admin_", "rk_pub_"] {
            let token = format!("{prefix}a1B2c3D4e5F6g7H8i9J0");
            assert_eq!(found(&format!("key: {token}")).first(), Some(&token));
        }
    }

    #[test]
    fn cloud_and_saas_tokens() {
        for token in [
            "AKIAIOSFODNN7EXAMPLE",
            "ASIAY34FZKBOKMUTVV7A",
            "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
            "xoxb-2048-4096-abcdefABCDEF",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "AIzaSyA-1234567890abcdefghijklmnopqrstu",
        ] {
            assert_eq!(found(&format!("here: {token}, ok")), [token], "{token}");
        }
    }

    #[test]
    fn look_alikes_are_not_secrets() {
        for text in [
            "AKIA is an acronym; AKIAIOSFODNN7 is too short",
            "the ghp_ prefix marks GitHub tokens",
            "Use the task_live_ flag and order number ABCD1234EFGH5678.",
            "your password is the one you chose at sign-up",
            "password: hunter",
            "the secret is patience",
            "eyJhbGciOi is the start of many tokens",
        ] {
            assert!(found(text).is_empty(), "{text}: {:?}", found(text));
        }
    }

    #[test]
    fn a_jwt_is_found_by_its_header() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let jwt = format!(
            "{header}.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
        );
        assert_eq!(found(&format!("token {jwt}.")), [jwt]);
        let not_a_header = URL_SAFE_NO_PAD.encode(br#"{"name":"x"}"#);
        assert!(found(&format!("{not_a_header}.abc.def")).is_empty());
    }

    #[test]
    fn pem_private_keys_whole_or_cut_off() {
        let key =
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA1234\n-----END RSA PRIVATE KEY-----";
        assert_eq!(found(&format!("here:\n{key}\nbye")), [key]);
        let cut = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA";
        assert_eq!(found(cut), [cut]);
        assert!(found("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----").is_empty());
    }

    #[test]
    fn credentials_after_their_names() {
        assert_eq!(found("the password: Tr0ub4dor&3 works"), ["Tr0ub4dor&3"]);
        assert_eq!(
            found("set secret=9f8e7d6c5b4a3210 now"),
            ["9f8e7d6c5b4a3210"]
        );
        assert_eq!(found("Your token is \"ab12cd34ef56\"."), ["ab12cd34ef56"]);
    }
}
