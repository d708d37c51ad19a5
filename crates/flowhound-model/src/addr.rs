//! Addresses are kept as one 128-bit value, IPv4 mapped into IPv6
//! (`::ffff:a.b.c.d`), so that one column holds both families and sorts and
//! compares in the natural order.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An IPv6 address, or an IPv4 address mapped into IPv6, as a big-endian u128.
pub type Addr = u128;

const V4_MAPPED: u128 = 0xffff_u128 << 32;

/// Map an IPv4 address, given as its big-endian u32, into [`Addr`].
#[inline]
pub fn addr_from_v4(v4: u32) -> Addr {
    V4_MAPPED | v4 as u128
}

/// An IPv6 address from its 16 network-order bytes.
#[inline]
pub fn addr_from_v6(bytes: [u8; 16]) -> Addr {
    u128::from_be_bytes(bytes)
}

/// The stored form of a std [`IpAddr`] (IPv4 mapped into IPv6).
pub fn addr_from_ip(ip: IpAddr) -> Addr {
    match ip {
        IpAddr::V4(v4) => addr_from_v4(u32::from(v4)),
        IpAddr::V6(v6) => addr_from_v6(v6.octets()),
    }
}

/// Whether the address is an IPv4-mapped one.
#[inline]
pub fn is_v4(a: Addr) -> bool {
    a >> 32 == 0xffff
}

/// The address as a std [`IpAddr`], IPv4 when mapped.
pub fn addr_to_ip(a: Addr) -> IpAddr {
    if is_v4(a) {
        IpAddr::V4(Ipv4Addr::from(a as u32))
    } else {
        IpAddr::V6(Ipv6Addr::from(a))
    }
}

pub(crate) fn ser<S: serde::Serializer>(a: &Addr, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&addr_to_ip(*a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_round_trip() {
        let a = addr_from_v4(u32::from(Ipv4Addr::new(192, 0, 2, 1)));
        assert!(is_v4(a));
        assert_eq!(addr_to_ip(a).to_string(), "192.0.2.1");
    }

    #[test]
    fn v6_stays_v6() {
        let ip: Ipv6Addr = "2001:db8::1".parse().expect("literal");
        let a = addr_from_v6(ip.octets());
        assert!(!is_v4(a));
        assert_eq!(addr_to_ip(a).to_string(), "2001:db8::1");
    }
}
