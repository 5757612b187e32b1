//! Twilio's webhook signatures: `X-Twilio-Signature`.
//!
//! Twilio signs every webhook request with the account's auth token:
//! HMAC-SHA1 over the full URL it requested, followed, for a form-encoded
//! body, by every form parameter's name and value with no separator, sorted
//! by name (and, for a name sent twice, by value); base64 of the MAC is the
//! header. For a JSON body the URL carries `bodySHA256=<hex SHA-256 of the
//! body>` in its query, and the MAC covers the URL alone.
//! (<https://www.twilio.com/docs/usage/security#validating-requests>.)
//!
//! Twilio's own libraries accept a signature computed over the URL with the
//! port as given and over the URL with the scheme's default port added or
//! removed, because Twilio's side has not always been consistent about
//! it; [`verify_form`] and [`verify_json`] accept exactly those variants
//! and nothing else.
//!
//! The URL is never taken from the request's `Host` header: the caller
//! passes the public URL it is configured with, joined with the request's
//! path and query, so a forged `Host` cannot steer what the MAC covers.
//!
//! Every comparison of a MAC or a hash is in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::{digest, hmac};
use subtle::ConstantTimeEq;

/// The request header that carries the signature.
pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// The query parameter carrying a JSON body's SHA-256.
pub const BODY_SHA256_PARAM: &str = "bodySHA256";

/// The most form parameters a webhook may carry; Twilio sends a few dozen.
pub const MAX_FORM_PARAMS: usize = 256;

/// The length of a base64 HMAC-SHA1 (20 bytes).
const SIGNATURE_LEN: usize = 28;

/// Why a request's signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-Twilio-Signature` header.
    #[error("the X-Twilio-Signature header is missing")]
    Missing,
    /// The header is not the base64 of a 20-byte MAC.
    #[error("the X-Twilio-Signature header is not a base64 HMAC-SHA1")]
    Malformed,
    /// The URL is not an absolute http(s) URL.
    #[error("the signed URL is not an absolute http or https URL")]
    InvalidUrl,
    /// A JSON body's URL has no `bodySHA256` parameter.
    #[error("a JSON webhook's URL must carry bodySHA256")]
    BodyHashMissing,
    /// The body's SHA-256 is not the one the URL names.
    #[error("the body does not match the URL's bodySHA256")]
    BodyHashMismatch,
    /// The MAC matches none of the URL's accepted forms.
    #[error("the signature does not match the request")]
    Mismatch,
}

/// Why a form body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// More than [`MAX_FORM_PARAMS`] parameters.
    #[error("the form has more than {MAX_FORM_PARAMS} parameters")]
    TooManyParams,
    /// A name or value is not UTF-8 once percent-decoded.
    #[error("the form is not UTF-8")]
    NotUtf8,
}

/// The base64 HMAC-SHA1 Twilio sends for `url` and a form's `params`.
#[must_use]
pub fn sign(auth_token: &[u8], url: &str, params: &[(String, String)]) -> String {
    STANDARD.encode(mac(auth_token, url, params).as_ref())
}

fn mac(auth_token: &[u8], url: &str, params: &[(String, String)]) -> hmac::Tag {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, auth_token);
    let mut context = hmac::Context::with_key(&key);
    context.update(url.as_bytes());
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    for (name, value) in sorted {
        context.update(name.as_bytes());
        context.update(value.as_bytes());
    }
    context.sign()
}

/// The lowercase hex SHA-256 of `body`, as `bodySHA256` carries it.
#[must_use]
pub fn body_sha256_hex(body: &[u8]) -> String {
    digest::digest(&digest::SHA256, body)
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Verifies a form-encoded webhook: `url` is the public URL of the request
/// (with its query), `params` the decoded form body, `signature` the
/// header's value (`None` when absent).
pub fn verify_form(
    auth_token: &[u8],
    url: &str,
    params: &[(String, String)],
    signature: Option<&str>,
) -> Result<(), SignatureError> {
    let presented = decode_signature(signature)?;
    let variants = url_variants(url)?;
    let mut matched = subtle::Choice::from(0);
    for variant in variants.iter().flatten() {
        matched |= mac(auth_token, variant, params).as_ref().ct_eq(&presented);
    }
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Verifies a JSON webhook: the URL's `bodySHA256` must be the body's
/// SHA-256, and the signature must cover the URL alone.
pub fn verify_json(
    auth_token: &[u8],
    url: &str,
    body: &[u8],
    signature: Option<&str>,
) -> Result<(), SignatureError> {
    let presented = decode_signature(signature)?;
    let variants = url_variants(url)?;
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let query = query.split_once('#').map_or(query, |(query, _)| query);
    let named = parse_form(query.as_bytes())
        .unwrap_or_default()
        .into_iter()
        .find(|(name, _)| name == BODY_SHA256_PARAM)
        .map(|(_, value)| value)
        .ok_or(SignatureError::BodyHashMissing)?;
    let hash_matches = body_sha256_hex(body)
        .as_bytes()
        .ct_eq(named.to_ascii_lowercase().as_bytes());
    let mut matched = subtle::Choice::from(0);
    for variant in variants.iter().flatten() {
        matched |= mac(auth_token, variant, &[]).as_ref().ct_eq(&presented);
    }
    if !bool::from(matched) {
        return Err(SignatureError::Mismatch);
    }
    if !bool::from(hash_matches) {
        return Err(SignatureError::BodyHashMismatch);
    }
    Ok(())
}

fn decode_signature(signature: Option<&str>) -> Result<Vec<u8>, SignatureError> {
    let signature = signature.ok_or(SignatureError::Missing)?.trim();
    if signature.len() != SIGNATURE_LEN {
        return Err(SignatureError::Malformed);
    }
    STANDARD
        .decode(signature)
        .map_err(|_| SignatureError::Malformed)
}

/// Decodes an `application/x-www-form-urlencoded` body into its
/// parameters, in order, refusing bodies that are not UTF-8 once decoded
/// (Twilio sends UTF-8; a lossy decoding would sign something other than
/// what was sent) and bodies with more than [`MAX_FORM_PARAMS`] parameters.
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let mut params = Vec::new();
    for pair in body.split(|byte| *byte == b'&') {
        if pair.is_empty() {
            continue;
        }
        if params.len() == MAX_FORM_PARAMS {
            return Err(FormError::TooManyParams);
        }
        let (name, value) = match pair.iter().position(|byte| *byte == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        params.push((decode_component(name)?, decode_component(value)?));
    }
    Ok(params)
}

/// One form component: `+` is a space, `%XX` a byte (a broken escape
/// stays as it is); the bytes must be UTF-8.
fn decode_component(raw: &[u8]) -> Result<String, FormError> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut index = 0;
    while index < raw.len() {
        let escaped = match raw.get(index..index + 3) {
            Some([b'%', high, low]) => hex_pair(*high, *low),
            _ => None,
        };
        if let Some(byte) = escaped {
            bytes.push(byte);
            index += 3;
            continue;
        }
        bytes.push(if raw[index] == b'+' { b' ' } else { raw[index] });
        index += 1;
    }
    String::from_utf8(bytes).map_err(|_| FormError::NotUtf8)
}

fn hex_pair(high: u8, low: u8) -> Option<u8> {
    let digit = |byte: u8| (byte as char).to_digit(16);
    u8::try_from(digit(high)? * 16 + digit(low)?).ok()
}

/// The forms of `url` a signature may cover: as given, and with the
/// scheme's default port removed (when it names one) or added (when it
/// names none). Both variants exist only for http and https.
fn url_variants(url: &str) -> Result<[Option<String>; 2], SignatureError> {
    let (scheme, rest) = url.split_once("://").ok_or(SignatureError::InvalidUrl)?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return Err(SignatureError::InvalidUrl),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // Userinfo (`user:pass@`) comes before the host; the port is after the
    // host, which for IPv6 is in brackets.
    let (userinfo, host_port) = match authority.rfind('@') {
        Some(at) => authority.split_at(at + 1),
        None => ("", authority),
    };
    let host_end = if host_port.starts_with('[') {
        host_port.find(']').ok_or(SignatureError::InvalidUrl)? + 1
    } else {
        host_port.find(':').unwrap_or(host_port.len())
    };
    let (host, port) = host_port.split_at(host_end);
    if host.is_empty() {
        return Err(SignatureError::InvalidUrl);
    }
    let other = match port.strip_prefix(':') {
        // A port is named: the variant without it.
        Some(_) => format!("{scheme}://{userinfo}{host}{tail}"),
        None if port.is_empty() => {
            format!("{scheme}://{userinfo}{host}:{default_port}{tail}")
        }
        None => return Err(SignatureError::InvalidUrl),
    };
    Ok([Some(url.to_owned()), Some(other)])
}

#[cfg(test)]
mod tests {
    //! The first vectors are Twilio's own, from twilio-python's
    //! `tests/unit/test_request_validator.py` (MIT licence): auth token
    //! `12345`, the URL and parameters below, and the signatures that test
    //! suite expects.
    use super::*;

    const TOKEN: &[u8] = b"12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const EXPECTED: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";
    const BODY: &str = "{\"property\": \"value\", \"boolean\": true}";
    const BODY_HASH: &str = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";
    const BODY_SIGNATURE: &str = "a9nBmqA0ju/hNViExpshrM61xv4=";

    fn params() -> Vec<(String, String)> {
        [
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
            ("Caller", "+14158675309"),
        ]
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
    }

    #[test]
    fn twilio_vector_signature() {
        assert_eq!(sign(TOKEN, URL, &params()), EXPECTED);
        assert_eq!(verify_form(TOKEN, URL, &params(), Some(EXPECTED)), Ok(()));
    }

    #[test]
    fn twilio_vector_duplicate_names_sort_by_value() {
        let params: Vec<(String, String)> = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ]
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
        assert_eq!(sign(TOKEN, URL, &params), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    }

    #[test]
    fn twilio_vector_body_hash() {
        assert_eq!(body_sha256_hex(BODY.as_bytes()), BODY_HASH);
        let url = format!("{URL}&bodySHA256={BODY_HASH}");
        assert_eq!(
            verify_json(TOKEN, &url, BODY.as_bytes(), Some(BODY_SIGNATURE)),
            Ok(())
        );
    }

    #[test]
    fn twilio_vectors_port_variants() {
        // A port in the URL: the signature over the URL without it passes.
        // (Twilio's libraries remove any port for that form, not only the
        // default one; the URL is Rampart's configured public URL, never
        // the caller's, so this widens nothing an attacker controls.)
        let with_port = URL.replace(".com", ".com:1234");
        assert_eq!(
            verify_form(TOKEN, &with_port, &params(), Some(EXPECTED)),
            Ok(())
        );
        // http with port 1234, signed as is.
        let http_port = with_port.replace("https", "http");
        assert_eq!(
            verify_form(
                TOKEN,
                &http_port,
                &params(),
                Some("Zmvh+3yNM1Phv2jhDCwEM3q5ebU=")
            ),
            Ok(())
        );
        // No port in the URL: a signature over it with :443 (or :80) passes.
        assert_eq!(
            verify_form(TOKEN, URL, &params(), Some("kvajT1Ptam85bY51eRf/AJRuM3w=")),
            Ok(())
        );
        let http = URL.replace("https", "http");
        assert_eq!(
            verify_form(
                TOKEN,
                &http,
                &params(),
                Some("0ZXoZLH/DfblKGATFgpif+LLRf4=")
            ),
            Ok(())
        );
    }

    #[test]
    fn a_changed_parameter_url_or_token_is_refused() {
        let mut changed = params();
        changed[1].1 = "9999".to_owned();
        assert_eq!(
            verify_form(TOKEN, URL, &changed, Some(EXPECTED)),
            Err(SignatureError::Mismatch)
        );
        let mut added = params();
        added.push(("Body".to_owned(), "STOP".to_owned()));
        assert_eq!(
            verify_form(TOKEN, URL, &added, Some(EXPECTED)),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_form(b"54321", URL, &params(), Some(EXPECTED)),
            Err(SignatureError::Mismatch)
        );
        for other in [
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            "https://evil.example/myapp.php?foo=1&bar=2",
            "https://mycompany.com/myapp.php",
            "http://mycompany.com/myapp.php?foo=1&bar=2",
        ] {
            assert_eq!(
                verify_form(TOKEN, other, &params(), Some(EXPECTED)),
                Err(SignatureError::Mismatch),
                "{other}"
            );
        }
    }

    #[test]
    fn a_missing_or_malformed_header_is_refused() {
        assert_eq!(
            verify_form(TOKEN, URL, &params(), None),
            Err(SignatureError::Missing)
        );
        for bad in [
            "",
            "not base64!",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8",
            "RSOYDt4T1cUTdK1PDd93/VVr8B8==",
        ] {
            assert_eq!(
                verify_form(TOKEN, URL, &params(), Some(bad)),
                Err(SignatureError::Malformed),
                "{bad:?}"
            );
        }
        // One bit flipped in the MAC.
        let mut raw = STANDARD.decode(EXPECTED).unwrap();
        raw[0] ^= 1;
        assert_eq!(
            verify_form(TOKEN, URL, &params(), Some(&STANDARD.encode(raw))),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_json_body_must_match_its_hash_and_carry_one() {
        let url = format!("{URL}&bodySHA256={BODY_HASH}");
        assert_eq!(
            verify_json(
                TOKEN,
                &url,
                b"{\"property\": \"other\"}",
                Some(BODY_SIGNATURE)
            ),
            Err(SignatureError::BodyHashMismatch)
        );
        assert_eq!(
            verify_json(TOKEN, URL, BODY.as_bytes(), Some(BODY_SIGNATURE)),
            Err(SignatureError::BodyHashMissing)
        );
        let forged = format!("{URL}&bodySHA256={}", body_sha256_hex(b"{}"));
        assert_eq!(
            verify_json(TOKEN, &forged, b"{}", Some(BODY_SIGNATURE)),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn urls_that_are_not_http_are_refused() {
        for url in [
            "mycompany.com/x",
            "ftp://mycompany.com/x",
            "https:///x",
            "https://host:/x:",
        ] {
            let result = verify_form(TOKEN, url, &params(), Some(EXPECTED));
            assert!(
                matches!(
                    result,
                    Err(SignatureError::InvalidUrl | SignatureError::Mismatch)
                ),
                "{url}: {result:?}"
            );
        }
        assert_eq!(url_variants("ftp://a/b"), Err(SignatureError::InvalidUrl));
        assert_eq!(url_variants("https:///b"), Err(SignatureError::InvalidUrl));
    }

    #[test]
    fn url_variants_keep_userinfo_ipv6_and_the_query() {
        assert_eq!(
            url_variants("https://user:pa:ss@example.com/p?q=1").unwrap()[1].as_deref(),
            Some("https://user:pa:ss@example.com:443/p?q=1")
        );
        assert_eq!(
            url_variants("http://[::1]:8080/p").unwrap()[1].as_deref(),
            Some("http://[::1]/p")
        );
        assert_eq!(
            url_variants("https://example.com?x=1").unwrap()[1].as_deref(),
            Some("https://example.com:443?x=1")
        );
    }

    #[test]
    fn forms_decode_plus_and_percent_and_refuse_bad_utf8() {
        let params = parse_form(b"Body=I+will+sue%21&From=%2B14158675309&Empty=&Flag").unwrap();
        assert_eq!(
            params,
            vec![
                ("Body".to_owned(), "I will sue!".to_owned()),
                ("From".to_owned(), "+14158675309".to_owned()),
                ("Empty".to_owned(), String::new()),
                ("Flag".to_owned(), String::new()),
            ]
        );
        // A lone or broken escape stays as it is, like browsers do.
        assert_eq!(parse_form(b"a=%zz%4").unwrap()[0].1, "%zz%4");
        assert_eq!(parse_form(b"a=%ff"), Err(FormError::NotUtf8));
        let many = vec!["a=1"; MAX_FORM_PARAMS + 1].join("&");
        assert_eq!(parse_form(many.as_bytes()), Err(FormError::TooManyParams));
        assert_eq!(parse_form(b"").unwrap(), vec![]);
    }
}
