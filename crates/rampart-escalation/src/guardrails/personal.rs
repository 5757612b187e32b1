//! Personal data a reply must not carry: card numbers (13 to 19 digits,
//! spaces or dashes between groups, valid by Luhn), and phone numbers and
//! e-mail addresses that are not the conversation's customer's own.
//!
//! Phone numbers compare by their digits, and a number matches the
//! customer's when one ends with the other (a country code written or not)
//! over at least 7 digits. E-mail addresses compare without case; an
//! address at one of the tenant's allowed link hosts is the tenant's own
//! (`support@shop.example`), not a customer's.
//!
//! A run of digits reads as a phone number when it starts with `+` or is
//! grouped by separators (7 to 15 digits), or is 10 to 15 bare digits; a
//! date (`2026-12-02`) is not one. Shorter bare numbers (order numbers,
//! prices) are left alone.

use super::{Kind, Span, links::host_allowed};
use crate::tenant_policy::is_email;

/// Every card number and other customer's contact in `text`.
#[must_use]
pub fn find(text: &str, customer_contacts: &[String], allowed_hosts: &[String]) -> Vec<Span> {
    let customer_phones: Vec<String> = customer_contacts
        .iter()
        .filter(|contact| !contact.contains('@'))
        .map(|contact| digits(contact))
        .filter(|digits| digits.len() >= 7)
        .collect();
    let mut spans = Vec::new();
    for run in number_runs(text) {
        let digits = digits(&text[run.range.clone()]);
        if (13..=19).contains(&digits.len()) && run.card_separators_only && luhn(&digits) {
            spans.push(Span::new(
                run.range,
                Kind::CardNumber,
                "a payment card number",
            ));
            continue;
        }
        let grouped = run.plus || run.groups.len() > 1;
        let phone_like = if grouped {
            (7..=15).contains(&digits.len()) && !is_date(&run.groups)
        } else {
            (10..=15).contains(&digits.len())
        };
        if phone_like && !customer_phones.iter().any(|own| same_phone(own, &digits)) {
            spans.push(Span::new(
                run.range,
                Kind::OtherCustomerContact,
                "a phone number that is not this customer's",
            ));
        }
    }
    let customer_emails: Vec<String> = customer_contacts
        .iter()
        .filter(|contact| contact.contains('@'))
        .map(|contact| contact.trim().to_lowercase())
        .collect();
    for range in emails(text) {
        let email = text[range.clone()].to_lowercase();
        let domain = email.rsplit('@').next().unwrap_or_default();
        let own = customer_emails.contains(&email) || host_allowed(domain, allowed_hosts);
        if !own {
            spans.push(Span::new(
                range,
                Kind::OtherCustomerContact,
                "an e-mail address that is not this customer's",
            ));
        }
    }
    spans
}

/// A run of digits with single separators between them.
#[derive(Debug)]
struct NumberRun {
    range: std::ops::Range<usize>,
    plus: bool,
    /// The lengths of its digit groups.
    groups: Vec<usize>,
    /// Only spaces and dashes separate the groups (how cards are written).
    card_separators_only: bool,
}

fn number_runs(text: &str) -> Vec<NumberRun> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut runs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (at, c) = chars[i];
        let starts_number =
            c.is_ascii_digit() || (matches!(c, '+' | '(') && next_is_digit(&chars, i));
        let glued = i > 0 && chars[i - 1].1.is_alphanumeric();
        if !starts_number || glued {
            i += 1;
            continue;
        }
        let plus = c == '+';
        let mut groups = vec![0usize];
        let mut card_separators_only = true;
        let mut end = at;
        let mut j = i;
        if !c.is_ascii_digit() {
            j += 1;
        }
        while j < chars.len() {
            let (pos, ch) = chars[j];
            if ch.is_ascii_digit() {
                *groups.last_mut().expect("a group") += 1;
                end = pos + 1;
                j += 1;
                continue;
            }
            // Up to two separator characters ("), ") between digits.
            let separators = chars[j..]
                .iter()
                .take(2)
                .take_while(|(_, s)| matches!(s, ' ' | '-' | '.' | '(' | ')'))
                .count();
            if separators == 0 || !next_is_digit(&chars, j + separators - 1) {
                break;
            }
            if chars[j..j + separators]
                .iter()
                .any(|(_, s)| !matches!(s, ' ' | '-'))
            {
                card_separators_only = false;
            }
            groups.push(0);
            j += separators;
        }
        // A letter right after the digits ("12kg", "3pm") is not a number.
        let glued_after = chars.get(j).is_some_and(|(_, ch)| ch.is_alphabetic());
        if !glued_after {
            runs.push(NumberRun {
                range: at..end,
                plus,
                groups,
                card_separators_only,
            });
        }
        i = j.max(i + 1);
    }
    runs
}

fn next_is_digit(chars: &[(usize, char)], i: usize) -> bool {
    chars.get(i + 1).is_some_and(|(_, c)| c.is_ascii_digit())
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

fn is_date(groups: &[usize]) -> bool {
    matches!(
        groups,
        [4, 1 | 2, 1 | 2] | [1 | 2, 1 | 2, 4] | [1 | 2, 1 | 2, 2]
    )
}

/// Whether two numbers' digits name the same phone: equal, or one ends
/// with the other, leading zeros (a national trunk prefix) aside.
fn same_phone(own: &str, found: &str) -> bool {
    let own = own.trim_start_matches('0');
    let found = found.trim_start_matches('0');
    let (short, long) = if own.len() <= found.len() {
        (own, found)
    } else {
        (found, own)
    };
    short.len() >= 7 && long.ends_with(short)
}

/// The Luhn checksum, over ASCII digits.
fn luhn(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(n, b)| {
            let d = u32::from(b - b'0');
            if n % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Every e-mail address in `text`.
fn emails(text: &str) -> Vec<std::ops::Range<usize>> {
    let local = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-');
    let domain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-');
    let mut out = Vec::new();
    for (at, _) in text.match_indices('@') {
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| local(*c))
            .last()
            .map_or(at, |(n, _)| n);
        let after = &text[at + 1..];
        let len = after.find(|c: char| !domain(c)).unwrap_or(after.len());
        let end = at + 1 + after[..len].trim_end_matches(['.', '-']).len();
        let start = start + (text[start..at].len() - text[start..at].trim_start_matches('.').len());
        if is_email(&text[start..end]) {
            out.push(start..end);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str, contacts: &[&str]) -> Vec<(Kind, String)> {
        let contacts: Vec<String> = contacts.iter().map(|c| (*c).to_owned()).collect();
        find(text, &contacts, &["shop.example".to_owned()])
            .into_iter()
            .map(|span| (span.finding.kind, text[span.range].to_owned()))
            .collect()
    }

    #[test]
    fn card_numbers_pass_luhn() {
        for card in [
            "4242 4242 4242 4242",
            "4111-1111-1111-1111",
            "378282246310005",
        ] {
            assert_eq!(
                found(&format!("card {card}."), &[]),
                [(Kind::CardNumber, card.to_owned())],
                "{card}"
            );
        }
    }

    #[test]
    fn a_sixteen_digit_order_number_failing_luhn_is_allowed() {
        assert!(found("your order 4242424242424241 has shipped", &[]).is_empty());
    }

    #[test]
    fn another_customers_phone_is_found_the_customers_own_is_not() {
        let text = "We called +1 (415) 555-0123 and 020 7946 0958.";
        assert_eq!(
            found(text, &["+14155550123"]),
            [(Kind::OtherCustomerContact, "020 7946 0958".to_owned())]
        );
        assert_eq!(found(text, &["(415) 555 0123", "+44 20 7946 0958"]), []);
    }

    #[test]
    fn short_numbers_dates_and_prices_are_not_phones() {
        for text in [
            "order 12345678 costs $1,299.99",
            "we open on 2026-12-02 at 9",
            "on 02.12.2026 we close",
            "call us in 3 days",
            "it weighs 12kg",
        ] {
            assert!(
                found(text, &[]).is_empty(),
                "{text}: {:?}",
                found(text, &[])
            );
        }
    }

    #[test]
    fn emails_of_others_are_found() {
        let text =
            "Write to Jane.Doe@example.com, or to you@home.example or support@help.shop.example.";
        assert_eq!(
            found(text, &["YOU@home.example"]),
            [(
                Kind::OtherCustomerContact,
                "Jane.Doe@example.com".to_owned()
            )]
        );
    }

    #[test]
    fn luhn_checks() {
        assert!(luhn("4242424242424242"));
        assert!(!luhn("4242424242424241"));
        assert!(luhn("79927398713"));
    }
}
