//! Export datagrams found in pcap and pcapng captures, on any UDP port.
//!
//! Link layers: Ethernet (with VLAN tags), raw IP, Linux cooked (SLL, SLL2)
//! and BSD loopback. A UDP payload counts as an export datagram when it
//! starts with version 5, 9 or 10; everything else is counted and skipped.

use std::io::Read;

use flowhound_model::{addr_from_v4, addr_from_v6, Addr};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::DataLink;

/// One export datagram out of a capture.
pub struct Datagram<'a> {
    /// The exporter: the IP source of the packet.
    pub exporter: Addr,
    /// Capture time, Unix ms.
    pub time_ms: i64,
    /// The UDP payload.
    pub payload: &'a [u8],
}

/// What a capture held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packets in the capture.
    pub packets: u64,
    /// UDP payloads that look like NetFlow v5/v9 or IPFIX.
    pub datagrams: u64,
    /// Packets that are not UDP, or UDP that is not a flow export.
    pub skipped: u64,
    /// IP fragments after the first (not reassembled).
    pub fragments: u64,
    /// The capture ends in a cut-off packet (a capture stopped hard): what
    /// came before it was read.
    pub truncated: bool,
}

/// A capture that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Neither pcap nor pcapng, or broken framing.
    #[error("not a readable pcap/pcapng capture: {0}")]
    Format(String),
    /// The file could not be read.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Call `f` for every export datagram in the capture read from `input`.
pub fn for_each_datagram(
    mut input: impl Read,
    mut f: impl FnMut(Datagram<'_>),
) -> Result<CaptureStats, CaptureError> {
    let mut magic = [0u8; 4];
    input.read_exact(&mut magic)?;
    let chained = std::io::Cursor::new(magic).chain(input);
    let mut stats = CaptureStats::default();
    if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
        let mut reader =
            PcapNgReader::new(chained).map_err(|e| CaptureError::Format(e.to_string()))?;
        let mut links: Vec<DataLink> = Vec::new();
        while let Some(block) = reader.next_block() {
            let block = match block {
                Ok(b) => b,
                Err(_) if stats.packets > 0 => {
                    stats.truncated = true;
                    break;
                }
                Err(e) => return Err(CaptureError::Format(e.to_string())),
            };
            match block {
                Block::SectionHeader(_) => links.clear(),
                Block::InterfaceDescription(i) => links.push(i.linktype),
                Block::EnhancedPacket(p) => {
                    let link = links
                        .get(p.interface_id as usize)
                        .copied()
                        .unwrap_or(DataLink::ETHERNET);
                    stats.packets += 1;
                    let ms = p.timestamp.as_millis() as i64;
                    packet(link, &p.data, ms, &mut stats, &mut f);
                }
                Block::SimplePacket(p) => {
                    let link = links.first().copied().unwrap_or(DataLink::ETHERNET);
                    stats.packets += 1;
                    packet(link, &p.data, 0, &mut stats, &mut f);
                }
                _ => {}
            }
        }
    } else {
        let mut reader =
            PcapReader::new(chained).map_err(|e| CaptureError::Format(e.to_string()))?;
        let link = reader.header().datalink;
        while let Some(p) = reader.next_packet() {
            let p = match p {
                Ok(p) => p,
                Err(_) if stats.packets > 0 => {
                    stats.truncated = true;
                    break;
                }
                Err(e) => return Err(CaptureError::Format(e.to_string())),
            };
            stats.packets += 1;
            packet(
                link,
                &p.data,
                p.timestamp.as_millis() as i64,
                &mut stats,
                &mut f,
            );
        }
    }
    Ok(stats)
}

fn packet(
    link: DataLink,
    frame: &[u8],
    time_ms: i64,
    stats: &mut CaptureStats,
    f: &mut impl FnMut(Datagram<'_>),
) {
    let ip = match link {
        DataLink::ETHERNET => ethernet(frame),
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => Some(frame),
        DataLink::LINUX_SLL => frame.get(16..),
        DataLink::LINUX_SLL2 => frame.get(20..),
        DataLink::NULL | DataLink::LOOP => frame.get(4..),
        _ => None,
    };
    match ip.map(udp) {
        Some(Some(Udp::Payload(exporter, payload))) if looks_like_export(payload) => {
            stats.datagrams += 1;
            f(Datagram {
                exporter,
                time_ms,
                payload,
            });
        }
        Some(Some(Udp::Fragment)) => stats.fragments += 1,
        _ => stats.skipped += 1,
    }
}

fn looks_like_export(p: &[u8]) -> bool {
    matches!(p, [0, 5 | 9 | 10, ..])
}

fn ethernet(frame: &[u8]) -> Option<&[u8]> {
    let mut ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let mut at = 14;
    // 802.1Q and QinQ tags.
    while matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) {
        ethertype = u16::from_be_bytes([*frame.get(at + 2)?, *frame.get(at + 3)?]);
        at += 4;
    }
    matches!(ethertype, 0x0800 | 0x86dd)
        .then(|| frame.get(at..))
        .flatten()
}

enum Udp<'a> {
    Payload(Addr, &'a [u8]),
    Fragment,
}

fn udp(ip: &[u8]) -> Option<Udp<'_>> {
    match ip.first()? >> 4 {
        4 => {
            let ihl = usize::from(ip[0] & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            let frag = u16::from_be_bytes([*ip.get(6)?, *ip.get(7)?]);
            if *ip.get(9)? != 17 {
                return None;
            }
            if frag & 0x1fff != 0 {
                return Some(Udp::Fragment);
            }
            let src = u32::from_be_bytes(ip.get(12..16)?.try_into().ok()?);
            let end = total.min(ip.len());
            let udp = ip.get(ihl..end)?;
            udp_payload(udp).map(|p| Udp::Payload(addr_from_v4(src), p))
        }
        6 => {
            let mut next = *ip.get(6)?;
            let src: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let mut at = 40;
            // Hop-by-hop, routing, destination options; a fragment header
            // means a fragment.
            loop {
                match next {
                    17 => break,
                    0 | 43 | 60 => {
                        next = *ip.get(at)?;
                        at += (usize::from(*ip.get(at + 1)?) + 1) * 8;
                    }
                    44 => return Some(Udp::Fragment),
                    _ => return None,
                }
            }
            udp_payload(ip.get(at..)?).map(|p| Udp::Payload(addr_from_v6(src), p))
        }
        _ => None,
    }
}

fn udp_payload(udp: &[u8]) -> Option<&[u8]> {
    if udp.len() < 8 {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
    udp.get(8..len.clamp(8, udp.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `import_pcap` fuzzer: an IPv4 packet whose UDP header is
    /// cut short (total length 26) made `clamp` panic.
    #[test]
    fn udp_header_shorter_than_8_bytes_is_skipped() {
        let capture =
            include_bytes!("../../../fuzz/regressions/import_pcap/udp_header_shorter_than_8.pcap");
        let mut n = 0;
        let stats = for_each_datagram(&capture[..], |_| n += 1).expect("a readable capture");
        assert_eq!(n, 0);
        assert_eq!(stats.datagrams, 0);
    }

    #[test]
    fn short_and_odd_udp_is_not_a_datagram() {
        assert!(udp_payload(&[0; 7]).is_none());
        assert_eq!(udp_payload(&[0, 1, 0, 2, 0, 8, 0, 0]), Some(&[][..]));
        // A length field larger than the packet: take what is there.
        assert_eq!(
            udp_payload(&[0, 1, 0, 2, 0xff, 0xff, 0, 0, 9]),
            Some(&[9][..])
        );
    }
}
