//! The client networks a credential may be used from.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// At most this many networks per credential: the list is checked on every
/// request.
pub const MAX_NETWORKS: usize = 32;

/// A parsed allow-list of networks; empty allows every address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedNetworks(Vec<IpNet>);

/// Why an allow-list was refused, naming the entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetworkError {
    #[error("{0:?} is not a network in CIDR notation (such as 203.0.113.0/24) nor an address")]
    Malformed(String),
    #[error("at most {MAX_NETWORKS} networks may be given")]
    TooMany,
}

impl AllowedNetworks {
    /// Parses CIDR networks or single addresses. Host bits are cleared, so
    /// "203.0.113.7/24" means 203.0.113.0/24.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, NetworkError> {
        if entries.len() > MAX_NETWORKS {
            return Err(NetworkError::TooMany);
        }
        let mut networks = Vec::with_capacity(entries.len());
        for entry in entries {
            let text = entry.as_ref().trim();
            let network = text
                .parse::<IpNet>()
                .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| NetworkError::Malformed(text.to_owned()))?;
            let network = network.trunc();
            if !networks.contains(&network) {
                networks.push(network);
            }
        }
        Ok(Self(networks))
    }

    /// Whether `address` may use the credential. IPv4 clients reaching an
    /// IPv6 socket (`::ffff:a.b.c.d`) are matched as IPv4.
    #[must_use]
    pub fn allows(&self, address: IpAddr) -> bool {
        if self.0.is_empty() {
            return true;
        }
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            IpAddr::V4(_) => address,
        };
        self.0.iter().any(|network| network.contains(&address))
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The networks in their canonical text form.
    #[must_use]
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for AllowedNetworks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_strings().join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_empty_list_allows_everyone() {
        let networks = AllowedNetworks::parse::<&str>(&[]).unwrap();
        assert!(networks.allows(ip("198.51.100.1")));
    }

    #[test]
    fn networks_and_single_addresses_are_matched() {
        let networks =
            AllowedNetworks::parse(&["203.0.113.7/24", "198.51.100.9", "2001:db8::/32"]).unwrap();
        assert_eq!(
            networks.to_strings(),
            ["203.0.113.0/24", "198.51.100.9/32", "2001:db8::/32"]
        );
        assert!(networks.allows(ip("203.0.113.200")));
        assert!(networks.allows(ip("198.51.100.9")));
        assert!(!networks.allows(ip("198.51.100.10")));
        assert!(networks.allows(ip("2001:db8::1")));
        assert!(!networks.allows(ip("2001:db9::1")));
        // An IPv4 client seen through an IPv6 socket.
        assert!(networks.allows(ip("::ffff:203.0.113.5")));
        assert!(!networks.allows(ip("::ffff:192.0.2.5")));
    }

    #[test]
    fn malformed_entries_are_named() {
        assert_eq!(
            AllowedNetworks::parse(&["10.0.0.0/8", "10.0.0.0/33"]),
            Err(NetworkError::Malformed("10.0.0.0/33".to_owned()))
        );
        assert_eq!(
            AllowedNetworks::parse(&["office"]),
            Err(NetworkError::Malformed("office".to_owned()))
        );
        let many: Vec<String> = (0..33).map(|i| format!("10.0.{i}.0/24")).collect();
        assert_eq!(AllowedNetworks::parse(&many), Err(NetworkError::TooMany));
    }
}
