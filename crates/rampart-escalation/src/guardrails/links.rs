//! Links in a reply: `http://` and `https://` URLs (also inside Markdown
//! or angle brackets), `www.` addresses, and bare domains followed by a
//! path (`evil.example/login`). A link whose host is not one of the
//! tenant's allowed hosts, or a subdomain of one, is masked.

use super::{Kind, Span, runs};

/// Whether `host` is one of `allowed` or a subdomain of one, without case.
#[must_use]
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    allowed.iter().any(|allowed| {
        let allowed = allowed.to_ascii_lowercase();
        host == allowed
            || host
                .strip_suffix(allowed.as_str())
                .is_some_and(|prefix| prefix.ends_with('.'))
    })
}

/// Every link to a host outside `allowed`.
#[must_use]
pub fn find(text: &str, allowed: &[String]) -> Vec<Span> {
    let mut spans = Vec::new();
    for word in runs(text, |c| !c.is_whitespace()) {
        let Some((range, host)) = link_in(text, word) else {
            continue;
        };
        if !host_allowed(&host, allowed) {
            spans.push(Span::new(
                range,
                Kind::Link,
                "a link to a host outside the allowed list",
            ));
        }
    }
    spans
}

/// The link inside one whitespace-free word, and its host.
fn link_in(text: &str, word: std::ops::Range<usize>) -> Option<(std::ops::Range<usize>, String)> {
    let lower = text[word.clone()].to_ascii_lowercase();
    let (offset, after_scheme) = if let Some(at) = lower.find("http://") {
        (at, at + 7)
    } else if let Some(at) = lower.find("https://") {
        (at, at + 8)
    } else {
        let www = lower.find("www.").filter(|at| {
            lower[..*at]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_ascii_alphanumeric())
        });
        match www {
            Some(at) => (at, at),
            None => return bare_domain(text, word),
        }
    };
    let start = word.start + offset;
    let rest = &text[start..word.end];
    let len = rest
        .find([')', ']', '>', '"', '\'', '<', '`'])
        .unwrap_or(rest.len());
    let link = rest[..len].trim_end_matches(['.', ',', ';', ':', '!', '?']);
    let host = host_of(&link[after_scheme - offset..])?;
    Some((start..start + link.len(), host))
}

/// `example.com/path`: a host with a dot and a letters-only top-level
/// label, then a slash. A word with `@` is an e-mail address, not a link.
fn bare_domain(
    text: &str,
    word: std::ops::Range<usize>,
) -> Option<(std::ops::Range<usize>, String)> {
    let raw = &text[word.clone()];
    if raw.contains('@') {
        return None;
    }
    let trimmed_start = raw.trim_start_matches(['(', '[', '<', '"', '\'']);
    let start = word.start + (raw.len() - trimmed_start.len());
    let link =
        trimmed_start.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '>', '"', '\'']);
    let (host, path) = link.split_once('/')?;
    let tld = host.rsplit('.').next()?;
    let looks_like_domain = host.contains('.')
        && tld.len() >= 2
        && tld.chars().all(|c| c.is_ascii_alphabetic())
        && crate::tenant_policy::is_hostname(host);
    if !looks_like_domain || path.is_empty() && !link.ends_with('/') {
        return None;
    }
    Some((start..start + link.len(), host.to_ascii_lowercase()))
}

/// The host of what follows the scheme: before the path, without user
/// information or port.
fn host_of(authority_and_path: &str) -> Option<String> {
    let authority = authority_and_path
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    let host = if let Some(bracketed) = host_port.strip_prefix('[') {
        bracketed.split(']').next().unwrap_or_default()
    } else {
        host_port.split(':').next().unwrap_or_default()
    };
    // A link with no host at all is still a link out: an empty host is
    // never on an allowlist.
    Some(host.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<String> {
        let allowed = ["shop.example".to_owned(), "docs.vendor.example".to_owned()];
        find(text, &allowed)
            .into_iter()
            .map(|span| text[span.range].to_owned())
            .collect()
    }

    #[test]
    fn links_outside_the_allowlist_are_found() {
        assert_eq!(
            found("See https://evil.example/login?x=1. Or [here](http://Phish.example/a)."),
            ["https://evil.example/login?x=1", "http://Phish.example/a"]
        );
        assert_eq!(found("try www.other.example today"), ["www.other.example"]);
        assert_eq!(
            found("go to other.example/reset now"),
            ["other.example/reset"]
        );
        assert_eq!(
            found("https://shop.example@evil.example/"),
            ["https://shop.example@evil.example/"]
        );
        assert_eq!(
            found("https://evilshop.example/"),
            ["https://evilshop.example/"]
        );
    }

    #[test]
    fn allowed_hosts_and_their_subdomains_are_not() {
        assert!(
            found("see https://shop.example/returns and https://help.shop.example/faq").is_empty()
        );
        assert!(found("see www.shop.example or shop.example/track").is_empty());
        assert!(found("https://docs.vendor.example:443/x").is_empty());
    }

    #[test]
    fn prose_is_not_a_link() {
        assert!(found("e.g. this, and/or that; mail me at a@b.example; version 1.2/3").is_empty());
    }
}
