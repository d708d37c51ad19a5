//! Parsing IPs and CIDRs into [`Addr`] ranges (IPv4 mapped into IPv6).

use std::net::IpAddr;

use flowhound_model::{addr_from_v4, addr_from_v6, Addr};

/// An address from text (`192.0.2.1`, `2001:db8::1`), IPv4 mapped into IPv6.
pub fn parse_addr(s: &str) -> Option<Addr> {
    match s.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(addr_from_v4(u32::from(v4))),
        IpAddr::V6(v6) => Some(addr_from_v6(v6.octets())),
    }
}

/// A network as the inclusive range of [`Addr`] it covers and its prefix
/// length counted in the 128-bit space (an IPv4 /8 is 104 there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Net {
    pub(crate) first: Addr,
    pub(crate) last: Addr,
    pub(crate) len128: u8,
}

/// An IP (a host network) or a CIDR; host bits after the prefix are ignored.
pub(crate) fn parse_net(s: &str) -> Result<Net, String> {
    let s = s.trim();
    let (ip, len) = match s.split_once('/') {
        Some((ip, len)) => (ip, Some(len)),
        None => (s, None),
    };
    let bad = |why: &str| format!("bad CIDR \"{s}\": {why}");
    let ip: IpAddr = ip.parse().map_err(|_| {
        if len.is_some() {
            bad("not an IP address before the /")
        } else {
            format!("bad address \"{s}\"")
        }
    })?;
    let (base, bits, offset) = match ip {
        IpAddr::V4(v4) => (addr_from_v4(u32::from(v4)), 32u8, 96u8),
        IpAddr::V6(v6) => (addr_from_v6(v6.octets()), 128u8, 0u8),
    };
    let len = match len {
        None => bits,
        Some(l) => match l.parse::<u8>() {
            Ok(l) if l <= bits => l,
            Ok(_) | Err(_) => return Err(bad(&format!("prefix length must be 0 to {bits}"))),
        },
    };
    let len128 = offset + len;
    let host = u128::MAX.checked_shr(u32::from(len128)).unwrap_or(0);
    Ok(Net {
        first: base & !host,
        last: base | host,
        len128,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_and_v6_cidrs() {
        let n = parse_net("10.0.0.0/8").expect("valid");
        assert_eq!(n.first, addr_from_v4(0x0a00_0000));
        assert_eq!(n.last, addr_from_v4(0x0aff_ffff));
        assert_eq!(n.len128, 104);
        let h = parse_net("192.0.2.7").expect("valid");
        assert_eq!(
            (h.first, h.last),
            (addr_from_v4(0xc000_0207), addr_from_v4(0xc000_0207))
        );
        let all = parse_net("::/0").expect("valid");
        assert_eq!((all.first, all.last), (0, u128::MAX));
        let v6 = parse_net("2001:db8::/32").expect("valid");
        assert_eq!(v6.first >> 96, 0x2001_0db8);
        assert_eq!(v6.last & 0xffff, 0xffff);
    }

    #[test]
    fn bad_cidrs_say_why() {
        assert_eq!(
            parse_net("10.0.0.0/33").expect_err("too long"),
            "bad CIDR \"10.0.0.0/33\": prefix length must be 0 to 32"
        );
        assert!(parse_net("10.0.0/8").is_err());
        assert!(parse_net("nonsense").is_err());
    }
}
