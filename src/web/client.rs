//! Who the client is, for every per-client limit: the peer's address, or,
//! when the peer is one of `server.trusted_proxies`, the address that proxy
//! wrote into `server.proxy_header`. A header from any other peer is
//! ignored: anyone can send one.
//!
//! Owns reading that address and the key a limit counts it under (an IPv6
//! client by its /64, the block one subscriber line gets). It must not
//! decide limits: `limits.rs` and the handlers do.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::{IpNet, Ipv6Net};

use super::app::{App, Proxies};

/// The client of a request (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Client(pub(super) IpAddr);

impl Client {
    /// What a per-client limit counts: the address, an IPv6 one as its /64.
    pub(super) fn key(&self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => Ipv6Net::new(v6, 64)
                .map(|n| n.trunc().to_string())
                .unwrap_or_else(|_| v6.to_string()),
        }
    }
}

impl FromRequestParts<Arc<App>> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        // The server inserts the peer for every connection; without it (a
        // test harness), every request is one unknown client.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        Ok(Client(client_of(peer, &parts.headers, &app.proxies)))
    }
}

/// The client address of a request from `peer` (see the module doc).
pub(super) fn client_of(peer: IpAddr, headers: &HeaderMap, proxies: &Proxies) -> IpAddr {
    let peer = peer.to_canonical();
    let trusted = |ip: &IpAddr| proxies.nets.iter().any(|n: &IpNet| n.contains(ip));
    if !trusted(&peer) {
        return peer;
    }
    let mut values = headers
        .get_all(proxies.header.as_str())
        .iter()
        .filter_map(|v| v.to_str().ok());
    let hops: Vec<Option<IpAddr>> = match proxies.header.as_str() {
        "x-real-ip" => {
            return values
                .next_back()
                .and_then(node)
                .map_or(peer, |ip| ip.to_canonical());
        }
        "forwarded" => values
            .flat_map(|v| v.split(','))
            .map(|element| {
                element
                    .split(';')
                    .filter_map(|pair| pair.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| node(v))
            })
            .collect(),
        _ => values.flat_map(|v| v.split(',')).map(node).collect(),
    };
    // From the nearest hop outwards: each trusted proxy names the next; the
    // first address no trusted proxy vouches for is the client. A hop that
    // cannot be read ends the walk at the last trusted one.
    let mut client = peer;
    for hop in hops.into_iter().rev() {
        match hop.map(|ip| ip.to_canonical()) {
            Some(ip) if trusted(&ip) => client = ip,
            Some(ip) => return ip,
            None => break,
        }
    }
    client
}

/// One hop's address: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`, quoted or not (RFC 7239).
fn node(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    let (host, port) = s.rsplit_once(':')?;
    port.bytes().all(|b| b.is_ascii_digit()).then_some(())?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use axum::http::{HeaderMap, HeaderValue};

    use super::{Client, Proxies, client_of};

    fn proxies(header: &str) -> Proxies {
        Proxies {
            nets: ["10.0.0.0/8", "127.0.0.1/32", "fd00::/8"]
                .iter()
                .map(|n| n.parse().unwrap())
                .collect(),
            header: header.into(),
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_client_is_the_first_address_no_trusted_proxy_vouches_for() {
        // (peer, header, header values, client)
        let cases: &[(&str, &str, &[&str], &str)] = &[
            // A peer that is no proxy: its headers are anyone's.
            (
                "203.0.113.9",
                "x-forwarded-for",
                &["198.51.100.1"],
                "203.0.113.9",
            ),
            (
                "10.0.0.2",
                "x-forwarded-for",
                &["198.51.100.1"],
                "198.51.100.1",
            ),
            // The client's own spoofed entry stays on the left.
            (
                "10.0.0.2",
                "x-forwarded-for",
                &["1.1.1.1, 198.51.100.1"],
                "198.51.100.1",
            ),
            (
                "10.0.0.2",
                "x-forwarded-for",
                &["1.1.1.1", "198.51.100.1, 10.0.0.7"],
                "198.51.100.1",
            ),
            ("10.0.0.2", "x-forwarded-for", &[], "10.0.0.2"),
            ("10.0.0.2", "x-forwarded-for", &["10.0.0.3"], "10.0.0.3"),
            (
                "10.0.0.2",
                "x-forwarded-for",
                &["198.51.100.1, garbage"],
                "10.0.0.2",
            ),
            (
                "10.0.0.2",
                "x-forwarded-for",
                &["198.51.100.1:4711"],
                "198.51.100.1",
            ),
            (
                "127.0.0.1",
                "forwarded",
                &["for=192.0.2.60;proto=http;by=203.0.113.43"],
                "192.0.2.60",
            ),
            (
                "127.0.0.1",
                "forwarded",
                &["for=\"[2001:db8:cafe::17]:4711\""],
                "2001:db8:cafe::17",
            ),
            (
                "127.0.0.1",
                "forwarded",
                &["for=1.1.1.1, for=192.0.2.43"],
                "192.0.2.43",
            ),
            ("127.0.0.1", "forwarded", &["for=unknown"], "127.0.0.1"),
            (
                "::ffff:10.0.0.2",
                "x-real-ip",
                &["198.51.100.7"],
                "198.51.100.7",
            ),
            ("10.0.0.2", "x-real-ip", &["nonsense"], "10.0.0.2"),
            // Only the configured header counts.
            ("10.0.0.2", "forwarded", &[], "10.0.0.2"),
        ];
        for (peer, header, values, want) in cases {
            let mut h = HeaderMap::new();
            for v in *values {
                h.append(*header, HeaderValue::from_str(v).unwrap());
            }
            h.insert("x-real-ip-other", HeaderValue::from_static("9.9.9.9"));
            assert_eq!(
                client_of(ip(peer), &h, &proxies(header)),
                ip(want),
                "{peer} {header} {values:?}"
            );
        }
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static("198.51.100.1"));
        assert_eq!(
            client_of(ip("10.0.0.2"), &h, &proxies("forwarded")),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn an_ipv6_client_counts_as_its_64() {
        assert_eq!(Client(ip("2001:db8:1:2:aa::1")).key(), "2001:db8:1:2::/64");
        assert_eq!(
            Client(ip("2001:db8:1:2:ffff::9")).key(),
            Client(ip("2001:db8:1:2::")).key()
        );
        assert_eq!(Client(ip("192.0.2.1")).key(), "192.0.2.1");
    }
}
