//! The outbound destination guard. A host name is resolved once, every address it resolves to is
//! checked, and the caller connects only to the addresses handed back here. Unless the server
//! allows private destinations, any address that is not a public unicast one refuses the whole
//! destination (a name that resolves to one public and one private address is refused: the
//! resolver, not the caller, would pick which one is used).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::ActionError;

/// Why an address is refused, as a phrase for "it resolves to {reason}"; `None` for a public address.
pub fn refusal_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => v6_reason(v6),
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip == Ipv4Addr::new(169, 254, 169, 254) {
        return Some("the cloud metadata address");
    }
    if ip.is_unspecified() || a == 0 {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if ip.is_private() {
        return Some("a private address");
    }
    if ip.is_link_local() {
        return Some("a link-local address");
    }
    if a == 100 && (b & 0xc0) == 64 {
        return Some("a carrier-grade NAT address");
    }
    if ip.is_broadcast() {
        return Some("the broadcast address");
    }
    if ip.is_multicast() {
        return Some("a multicast address");
    }
    if a >= 240 {
        return Some("a reserved address");
    }
    // 192.0.0.0/24: IETF protocol assignments (including the DS-Lite and NAT64 discovery hosts).
    if a == 192 && b == 0 && c == 0 {
        return Some("a reserved address");
    }
    // 198.18.0.0/15: network benchmarking, used inside data centres.
    if a == 198 && (b & 0xfe) == 18 {
        return Some("a reserved address");
    }
    // Documentation (TEST-NET-1, -2, -3) and the deprecated 6to4 relay anycast 192.88.99.0/24.
    if (a, b, c) == (192, 0, 2)
        || (a, b, c) == (198, 51, 100)
        || (a, b, c) == (203, 0, 113)
        || (a, b, c) == (192, 88, 99)
    {
        return Some("a reserved address");
    }
    None
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    // An IPv4 address carried in IPv6 is judged as the IPv4 address it reaches.
    if let Some(v4) = embedded_v4(ip) {
        return v4_reason(v4);
    }
    let segments = ip.segments();
    // 6to4 (2002::/16): the IPv4 address of the site's router follows the prefix.
    if segments[0] == 0x2002 {
        let v4 = Ipv4Addr::from((u32::from(segments[1]) << 16) | u32::from(segments[2]));
        return v4_reason(v4);
    }
    // Teredo (2001::/32): the server's IPv4 address, then the client's, inverted, at the end.
    if segments[0] == 0x2001 && segments[1] == 0 {
        let server = Ipv4Addr::from((u32::from(segments[2]) << 16) | u32::from(segments[3]));
        let client = Ipv4Addr::from(!((u32::from(segments[6]) << 16) | u32::from(segments[7])));
        return v4_reason(server).or_else(|| v4_reason(client));
    }
    // Documentation 2001:db8::/32, discard-only 100::/64, ORCHID 2001:10::/28 and 2001:20::/28,
    // benchmarking 2001:2::/48.
    if (segments[0] == 0x2001 && segments[1] == 0x0db8)
        || segments[..4] == [0x0100, 0, 0, 0]
        || (segments[0] == 0x2001 && (segments[1] & 0xfff0) == 0x0010)
        || (segments[0] == 0x2001 && (segments[1] & 0xfff0) == 0x0020)
        || (segments[0] == 0x2001 && segments[1] == 0x0002 && segments[2] == 0)
    {
        return Some("a reserved address");
    }
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
        return Some("the cloud metadata address");
    }
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    if ip.is_multicast() {
        return Some("a multicast address");
    }
    if (segments[0] & 0xffc0) == 0xfe80 {
        return Some("a link-local address");
    }
    // fc00::/7 unique local, and the deprecated site-local fec0::/10.
    if (segments[0] & 0xfe00) == 0xfc00 || (segments[0] & 0xffc0) == 0xfec0 {
        return Some("a private address");
    }
    None
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated
/// (`::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64 well-known-prefix
/// (`64:ff9b::a.b.c.d`) or local-use NAT64 (`64:ff9b:1::/48`, the last 32 bits) IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0, 0, 0, 0, 0, 0] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(tail);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..3] == [0x64, 0xff9b, 1] || s[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return Some(tail);
    }
    None
}

/// Checks one address against the policy.
pub fn check_addr(host: &str, ip: IpAddr, allow_private: bool) -> Result<(), ActionError> {
    if allow_private {
        return Ok(());
    }
    match refusal_reason(ip) {
        None => Ok(()),
        Some(reason) => Err(ActionError::DestinationRefused {
            host: host.to_owned(),
            addr: ip,
            reason,
        }),
    }
}

/// Resolves `host` once and checks every address. `host` may be a name, an IPv4 literal or an IPv6
/// literal with or without brackets. The returned addresses (never empty) are the only ones the
/// caller may connect to.
pub async fn resolve_checked(host: &str, port: u16, allow_private: bool) -> Result<Vec<SocketAddr>, ActionError> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => {
            if bare.is_empty() {
                return Err(ActionError::invalid("the destination has no host name; give one"));
            }
            match tokio::net::lookup_host((bare, port)).await {
                Ok(found) => found.collect(),
                Err(_) => return Err(ActionError::Resolve { host: host.to_owned() }),
            }
        }
    };
    check_resolved(host, addrs, allow_private)
}

/// Checks every address a name resolved to; one refused address refuses the destination.
fn check_resolved(host: &str, addrs: Vec<SocketAddr>, allow_private: bool) -> Result<Vec<SocketAddr>, ActionError> {
    if addrs.is_empty() {
        return Err(ActionError::Resolve { host: host.to_owned() });
    }
    let mut unique: Vec<SocketAddr> = Vec::with_capacity(addrs.len());
    for addr in addrs {
        check_addr(host, addr.ip(), allow_private)?;
        if !unique.contains(&addr) {
            unique.push(addr);
        }
    }
    Ok(unique)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(s: &str) -> Option<&'static str> {
        refusal_reason(s.parse().unwrap())
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "169.253.255.255",
            "11.0.0.1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:82b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(reason(ip), None, "{ip} is public");
        }
    }

    #[test]
    fn each_refused_range_names_its_reason() {
        let cases = [
            ("127.0.0.1", "a loopback address"),
            ("127.255.255.254", "a loopback address"),
            ("10.0.0.1", "a private address"),
            ("10.255.255.255", "a private address"),
            ("172.16.0.1", "a private address"),
            ("172.31.255.255", "a private address"),
            ("192.168.1.1", "a private address"),
            ("169.254.0.1", "a link-local address"),
            ("169.254.169.254", "the cloud metadata address"),
            ("100.64.0.1", "a carrier-grade NAT address"),
            ("100.127.255.255", "a carrier-grade NAT address"),
            ("0.0.0.0", "an unspecified address"),
            ("0.1.2.3", "an unspecified address"),
            ("255.255.255.255", "the broadcast address"),
            ("224.0.0.1", "a multicast address"),
            ("239.255.255.250", "a multicast address"),
            ("240.0.0.1", "a reserved address"),
            ("192.0.0.170", "a reserved address"),
            ("198.18.0.1", "a reserved address"),
            ("::1", "a loopback address"),
            ("::", "an unspecified address"),
            ("fc00::1", "a private address"),
            ("fd12:3456::1", "a private address"),
            ("fec0::1", "a private address"),
            ("fe80::1", "a link-local address"),
            ("febf:ffff::1", "a link-local address"),
            ("ff02::1", "a multicast address"),
            ("fd00:ec2::254", "the cloud metadata address"),
        ];
        for (ip, want) in cases {
            assert_eq!(reason(ip), Some(want), "{ip}");
        }
    }

    #[test]
    fn ipv4_inside_ipv6_is_judged_as_ipv4() {
        assert_eq!(reason("::ffff:127.0.0.1"), Some("a loopback address"));
        assert_eq!(reason("::ffff:10.1.2.3"), Some("a private address"));
        assert_eq!(reason("::ffff:169.254.169.254"), Some("the cloud metadata address"));
        assert_eq!(reason("::ffff:192.168.0.1"), Some("a private address"));
        assert_eq!(reason("::ffff:100.64.0.1"), Some("a carrier-grade NAT address"));
        assert_eq!(reason("::ffff:0.0.0.0"), Some("an unspecified address"));
        assert_eq!(reason("::127.0.0.1"), Some("a loopback address"));
        assert_eq!(reason("64:ff9b::a9fe:a9fe"), Some("the cloud metadata address"));
        assert_eq!(reason("64:ff9b::7f00:1"), Some("a loopback address"));
    }

    /// Every other form that reaches an IPv4 address, and ranges that are not public unicast.
    #[test]
    fn tunnelled_translated_and_documentation_addresses_are_refused() {
        let cases = [
            // IPv4-translated (SIIT, ::ffff:0:a.b.c.d)
            ("::ffff:0:127.0.0.1", "a loopback address"),
            ("::ffff:0:a9fe:a9fe", "the cloud metadata address"),
            // local-use NAT64 prefix 64:ff9b:1::/48
            ("64:ff9b:1::10.0.0.1", "a private address"),
            ("64:ff9b:1:ffff::7f00:1", "a loopback address"),
            // 6to4: 2002:AABB:CCDD::/48 carries the IPv4 address AA.BB.CC.DD
            ("2002:7f00:1::1", "a loopback address"),
            ("2002:a9fe:a9fe::1", "the cloud metadata address"),
            ("2002:c0a8:101::1", "a private address"),
            // Teredo: the client's IPv4 address, inverted, in the last 32 bits
            ("2001:0:4136:e378:8000:63bf:80ff:fffe", "a loopback address"),
            ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "a private address"),
            // documentation, discard-only, ORCHID, benchmarking
            ("2001:db8::1", "a reserved address"),
            ("100::1", "a reserved address"),
            ("2001:20::1", "a reserved address"),
            ("2001:2::1", "a reserved address"),
            ("192.0.2.1", "a reserved address"),
            ("198.51.100.7", "a reserved address"),
            ("203.0.113.9", "a reserved address"),
        ];
        for (ip, want) in cases {
            assert_eq!(reason(ip), Some(want), "{ip}");
        }
        for ip in [
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
            "64:ff9b:1::808:808",
        ] {
            assert_eq!(reason(ip), None, "{ip} reaches a public IPv4 address");
        }
    }

    #[test]
    fn the_flag_allows_everything() {
        for ip in ["127.0.0.1", "169.254.169.254", "fd00:ec2::254", "::1", "10.0.0.1"] {
            assert!(check_addr("h", ip.parse().unwrap(), true).is_ok());
            let err = check_addr("h", ip.parse().unwrap(), false).unwrap_err();
            assert_eq!(err.code(), "action.destination_refused");
            assert!(err.to_string().contains("--allow-private-destinations"), "{err}");
        }
    }

    #[test]
    fn one_private_address_among_public_ones_refuses_the_name() {
        let addrs: Vec<SocketAddr> = vec![
            "93.184.215.14:443".parse().unwrap(),
            "[2606:4700::1]:443".parse().unwrap(),
            "10.0.0.7:443".parse().unwrap(),
        ];
        let err = check_resolved("rebind.example", addrs.clone(), false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "destination rebind.example refused: it resolves to a private address (10.0.0.7); start the server with --allow-private-destinations to allow it"
        );
        assert_eq!(check_resolved("rebind.example", addrs, true).unwrap().len(), 3);
        let public = vec![
            "93.184.215.14:443".parse().unwrap(),
            "93.184.215.14:443".parse().unwrap(),
        ];
        assert_eq!(
            check_resolved("example.com", public, false).unwrap().len(),
            1,
            "duplicates are dropped"
        );
        assert_eq!(
            check_resolved("none.example", vec![], true).unwrap_err().code(),
            "action.connect_failed"
        );
    }

    #[tokio::test]
    async fn literals_are_not_looked_up_and_brackets_are_accepted() {
        let addrs = resolve_checked("[::1]", 8080, true).await.unwrap();
        assert_eq!(addrs, vec!["[::1]:8080".parse().unwrap()]);
        let err = resolve_checked("[::1]", 8080, false).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "destination [::1] refused: it resolves to a loopback address (::1); start the server with --allow-private-destinations to allow it"
        );
        let err = resolve_checked("169.254.169.254", 80, false).await.unwrap_err();
        assert!(err.to_string().contains("the cloud metadata address"), "{err}");
    }

    #[tokio::test]
    async fn localhost_is_resolved_and_refused() {
        let err = resolve_checked("localhost", 80, false).await.unwrap_err();
        assert_eq!(err.code(), "action.destination_refused");
        assert!(
            err.to_string()
                .starts_with("destination localhost refused: it resolves to a loopback address"),
            "{err}"
        );
        let addrs = resolve_checked("localhost", 80, true).await.unwrap();
        assert!(
            addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80),
            "{addrs:?}"
        );
    }
}
