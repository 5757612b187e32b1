//! The web origins a widget key may be used from.
//!
//! A widget key is public (it sits in a web page), so what protects it is
//! where it may be used: the browser's `Origin`, which a page cannot forge.
//! Origins are compared in their serialised form (`scheme://host[:port]`,
//! lowercase, default ports left out), exactly as browsers send them.

use std::fmt;

/// At most this many origins per key.
pub const MAX_ORIGINS: usize = 16;
const MAX_ORIGIN_LEN: usize = 253 + "https://:65535".len();

/// One origin in serialised form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin(String);

/// Why an origin was refused, naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OriginError {
    #[error(
        "{0:?} is not a web origin: use https://host[:port] (http only for localhost), with no path"
    )]
    Malformed(String),
    #[error("at most {MAX_ORIGINS} origins may be given")]
    TooMany,
    #[error("a widget key needs at least one allowed origin")]
    Empty,
}

impl Origin {
    /// Parses an origin as configured or as a browser sends it.
    pub fn parse(text: &str) -> Result<Self, OriginError> {
        let malformed = || OriginError::Malformed(text.to_owned());
        if text.len() > MAX_ORIGIN_LEN {
            return Err(malformed());
        }
        let lower = text.trim().to_ascii_lowercase();
        let (scheme, rest) = lower.split_once("://").ok_or_else(malformed)?;
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || rest.starts_with('[') => {
                let port: u16 = port.parse().map_err(|_| malformed())?;
                (host, Some(port))
            }
            _ => (rest, None),
        };
        let host_ok = !host.is_empty()
            && host.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'[' | b']' | b':')
            });
        if !host_ok {
            return Err(malformed());
        }
        let local = host == "localhost" || host == "127.0.0.1" || host == "[::1]";
        let default_port = match scheme {
            "https" => 443,
            "http" if local => 80,
            _ => return Err(malformed()),
        };
        Ok(Self(match port {
            Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
            _ => format!("{scheme}://{host}"),
        }))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A widget key's origins; never empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedOrigins(Vec<Origin>);

impl AllowedOrigins {
    /// Parses configured origins; an empty list is allowed here (for keys
    /// that are not widget keys) and refused by [`Self::parse_required`].
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, OriginError> {
        if entries.len() > MAX_ORIGINS {
            return Err(OriginError::TooMany);
        }
        let mut origins = Vec::with_capacity(entries.len());
        for entry in entries {
            let origin = Origin::parse(entry.as_ref())?;
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(Self(origins))
    }

    /// Parses the origins of a widget key: at least one.
    pub fn parse_required<S: AsRef<str>>(entries: &[S]) -> Result<Self, OriginError> {
        let origins = Self::parse(entries)?;
        if origins.0.is_empty() {
            return Err(OriginError::Empty);
        }
        Ok(origins)
    }

    /// Whether a browser's `Origin` header value is one of these.
    #[must_use]
    pub fn allows(&self, presented: &str) -> bool {
        Origin::parse(presented).is_ok_and(|origin| self.0.contains(&origin))
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    #[must_use]
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|origin| origin.0.clone()).collect()
    }
}

impl fmt::Display for AllowedOrigins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_strings().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_normalised_as_browsers_send_them() {
        let origins = AllowedOrigins::parse(&[
            "https://Shop.Example.com",
            "https://shop.example.com:443",
            "https://app.example.com:8443",
            "http://localhost:3000",
        ])
        .unwrap();
        assert_eq!(
            origins.to_strings(),
            [
                "https://shop.example.com",
                "https://app.example.com:8443",
                "http://localhost:3000"
            ]
        );
        assert!(origins.allows("https://shop.example.com"));
        assert!(origins.allows("https://app.example.com:8443"));
        assert!(!origins.allows("https://app.example.com"));
        assert!(!origins.allows("https://evil.example.com"));
        assert!(!origins.allows("http://shop.example.com"));
        assert!(!origins.allows("null"));
    }

    #[test]
    fn malformed_origins_are_named() {
        for bad in [
            "shop.example.com",
            "https://shop.example.com/widget",
            "http://shop.example.com",
            "ftp://shop.example.com",
            "https://",
            "https://shop example.com",
            "https://shop.example.com:99999",
        ] {
            assert_eq!(
                AllowedOrigins::parse(&[bad]),
                Err(OriginError::Malformed(bad.to_owned())),
                "{bad}"
            );
        }
        assert_eq!(
            AllowedOrigins::parse_required::<&str>(&[]),
            Err(OriginError::Empty)
        );
    }
}
