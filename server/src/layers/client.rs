//! Who a call comes from, for the per-client limits: the TCP peer's address or, when that
//! peer is a trusted proxy (`--trusted-proxies`), the address the proxy forwards for, read
//! from `X-Forwarded-For` or `Forwarded` from the right: the right-most hop that is not a
//! trusted proxy is the client, since every hop appends and only the trusted ones can be
//! believed. From any other peer those headers are ignored (anyone can send them).
//!
//! IPv6 clients are keyed by their /64: one host usually holds a whole /64, so keying by
//! the full address would let it be 2^64 clients.

use std::net::{IpAddr, Ipv6Addr};

use http::HeaderMap;
use ipnet::IpNet;

/// A client, as the per-client limits count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key of `ip`: itself for IPv4 (an IPv4-mapped IPv6 address counts as IPv4), its
    /// /64 for IPv6.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(_) => Self(ip),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Self(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(ip) => write!(f, "{ip}"),
            IpAddr::V6(ip) => write!(f, "{ip}/64"),
        }
    }
}

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip_of(ip);
        self.0.iter().any(|network| network.contains(&ip))
    }

    /// The client behind `peer`: `peer` itself unless it is a trusted proxy, else the
    /// right-most forwarded address that is not one (the left-most if all are).
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> ClientKey {
        if !self.trusts(peer) {
            return ClientKey::of(peer);
        }
        let mut client = peer;
        for hop in forwarded_for(headers).into_iter().rev() {
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        ClientKey::of(client)
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn ip_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The addresses of `Forwarded: for=…` (RFC 7239) or, without it, `X-Forwarded-For`, in
/// order, left to right. Entries that are not an address (`unknown`, obfuscated names) are
/// skipped.
fn forwarded_for(headers: &HeaderMap) -> Vec<IpAddr> {
    let values = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>()
    };
    let forwarded: Vec<IpAddr> = values("forwarded")
        .into_iter()
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                key.eq_ignore_ascii_case("for").then(|| parse_node(value))?
            })
        })
        .collect();
    if !forwarded.is_empty() {
        return forwarded;
    }
    values("x-forwarded-for")
        .into_iter()
        .filter_map(parse_node)
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:80`, `"[2001:db8::1]:80"`, `2001:db8::1`.
fn parse_node(value: &str) -> Option<IpAddr> {
    let value = value.trim().trim_matches('"');
    if let Ok(ip) = value.parse() {
        return Some(ip);
    }
    if let Some(rest) = value.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    value.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(
            ClientKey::of(ip("2001:db8:1:2:aaaa::1")),
            ClientKey::of(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            ClientKey::of(ip("2001:db8:1:2::1")),
            ClientKey::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            ClientKey::of(ip("::ffff:192.0.2.7")),
            ClientKey::of(ip("192.0.2.7"))
        );
        assert_eq!(
            ClientKey::of(ip("2001:db8:1:2::1")).to_string(),
            "2001:db8:1:2::/64"
        );
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().expect("CIDR")]);
        let forwarded = headers(&[("x-forwarded-for", "198.51.100.1, 203.0.113.9")]);
        // From a trusted proxy: the right-most untrusted hop.
        assert_eq!(
            proxies.client(ip("10.1.2.3"), &forwarded),
            ClientKey::of(ip("203.0.113.9"))
        );
        // From anyone else: the peer, whatever it claims.
        assert_eq!(
            proxies.client(ip("192.0.2.1"), &forwarded),
            ClientKey::of(ip("192.0.2.1"))
        );
        // A chain of trusted proxies is walked through; a spoofed left part is ignored.
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.2")]);
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &chain),
            ClientKey::of(ip("203.0.113.9"))
        );
        // No header from a trusted proxy: the proxy itself.
        assert_eq!(
            proxies.client(ip("10.0.0.1"), &HeaderMap::new()),
            ClientKey::of(ip("10.0.0.1"))
        );
        // Nothing trusted: never read.
        assert_eq!(
            TrustedProxies::default().client(ip("10.0.0.1"), &forwarded),
            ClientKey::of(ip("10.0.0.1"))
        );
    }

    #[test]
    fn rfc_7239_forwarded_is_read_too() {
        let proxies = TrustedProxies::new(vec!["127.0.0.1/32".parse().expect("CIDR")]);
        let forwarded = headers(&[(
            "forwarded",
            r#"for=192.0.2.60;proto=http, for="[2001:db8:cafe::17]:4711""#,
        )]);
        assert_eq!(
            proxies.client(ip("127.0.0.1"), &forwarded),
            ClientKey::of(ip("2001:db8:cafe::17"))
        );
        assert_eq!(parse_node("192.0.2.60:80"), Some(ip("192.0.2.60")));
        assert_eq!(parse_node("unknown"), None);
    }
}
