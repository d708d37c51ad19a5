//! Public prefixes the synthetic site talks to: real allocations from every
//! region, with the AS that originates them (checked against the RouteViews /
//! DB-IP table in `shared/registry/asn-ipv4.csv`), and how likely each one is
//! to be a web, mail, DNS or "eyeball" (residential, scanning) peer.

/// One external prefix and its roles.
#[derive(Clone, Copy, Debug)]
pub struct Prefix {
    /// Network address, big-endian u32.
    pub net: u32,
    /// Prefix length.
    pub len: u8,
    /// Origin AS.
    pub asn: u32,
    /// Weight as a web / CDN destination.
    pub web: u32,
    /// Weight as a mail (MX) peer.
    pub mail: u32,
    /// Weight as a DNS server (resolver, root, TLD, authoritative).
    pub dns: u32,
    /// Weight as a residential / hosting source of background noise.
    pub eyeball: u32,
}

const fn p(a: u8, b: u8, c: u8, d: u8, len: u8, asn: u32, w: [u32; 4]) -> Prefix {
    Prefix {
        net: u32::from_be_bytes([a, b, c, d]),
        len,
        asn,
        web: w[0],
        mail: w[1],
        dns: w[2],
        eyeball: w[3],
    }
}

/// The table. Weights are `[web, mail, dns, eyeball]`.
pub const PREFIXES: &[Prefix] = &[
    // North America: CDNs, clouds, big platforms.
    p(142, 250, 0, 0, 15, 15169, [120, 60, 0, 0]), // Google
    p(172, 217, 0, 0, 19, 15169, [60, 20, 0, 0]),  // Google
    p(8, 8, 8, 0, 24, 15169, [0, 0, 60, 0]),       // Google Public DNS
    p(104, 16, 0, 0, 14, 13335, [100, 0, 0, 0]),   // Cloudflare
    p(1, 1, 1, 0, 24, 13335, [0, 0, 40, 0]),       // Cloudflare DNS
    p(151, 101, 0, 0, 16, 54113, [50, 0, 0, 0]),   // Fastly
    p(199, 232, 0, 0, 16, 54113, [15, 0, 0, 0]),   // Fastly
    p(13, 32, 0, 0, 15, 16509, [50, 0, 0, 0]),     // Amazon CloudFront
    p(52, 0, 0, 0, 12, 16509, [40, 10, 0, 8]),     // Amazon EC2
    p(54, 230, 0, 0, 16, 16509, [25, 0, 0, 0]),    // Amazon
    p(20, 36, 0, 0, 15, 8075, [25, 30, 0, 0]),     // Microsoft
    p(40, 76, 0, 0, 14, 8075, [20, 40, 0, 0]),     // Microsoft (Exchange Online)
    p(13, 107, 42, 0, 23, 8068, [20, 0, 0, 0]),    // Microsoft
    p(204, 79, 197, 0, 24, 8068, [10, 0, 0, 0]),   // Bing
    p(157, 240, 0, 0, 17, 32934, [50, 0, 0, 0]),   // Facebook
    p(31, 13, 64, 0, 18, 32934, [25, 0, 0, 0]),    // Facebook
    p(17, 0, 0, 0, 8, 714, [30, 10, 0, 0]),        // Apple
    p(23, 32, 0, 0, 23, 20940, [25, 0, 0, 0]),     // Akamai
    p(2, 16, 0, 0, 24, 20940, [15, 0, 0, 0]),      // Akamai
    p(140, 82, 112, 0, 20, 36459, [12, 0, 0, 0]),  // GitHub
    p(45, 33, 0, 0, 17, 63949, [4, 2, 0, 10]),     // Linode
    p(129, 250, 0, 0, 19, 2914, [2, 0, 4, 2]),     // NTT America
    p(178, 62, 0, 0, 16, 14061, [4, 3, 0, 14]),    // DigitalOcean
    p(139, 59, 0, 0, 16, 14061, [3, 3, 0, 12]),    // DigitalOcean
    p(167, 99, 0, 0, 16, 14061, [3, 3, 0, 12]),    // DigitalOcean
    // Europe.
    p(193, 0, 0, 0, 21, 3333, [2, 1, 25, 0]), // RIPE NCC (k-root)
    p(212, 58, 224, 0, 19, 2818, [10, 0, 2, 0]), // BBC
    p(62, 157, 0, 0, 16, 3320, [4, 12, 2, 14]), // Deutsche Telekom
    p(31, 184, 0, 0, 18, 9145, [1, 4, 0, 10]), // EWE TEL
    p(217, 160, 0, 0, 16, 8560, [6, 14, 3, 3]), // IONOS
    p(46, 4, 0, 0, 16, 24940, [6, 10, 3, 8]), // Hetzner
    p(88, 198, 0, 0, 16, 24940, [5, 10, 3, 8]), // Hetzner
    p(194, 109, 0, 0, 16, 1136, [2, 8, 2, 10]), // KPN
    p(81, 2, 64, 0, 18, 20712, [1, 4, 2, 4]), // Andrews & Arnold
    p(195, 154, 0, 0, 16, 12876, [4, 6, 2, 10]), // Scaleway
    p(51, 15, 0, 0, 16, 12876, [3, 6, 1, 10]), // Scaleway
    p(80, 67, 160, 0, 22, 20766, [1, 2, 2, 2]), // Gitoyen
    p(91, 189, 88, 0, 21, 41231, [8, 0, 0, 0]), // Canonical
    p(185, 220, 101, 0, 24, 60729, [0, 0, 0, 6]), // Tor exits
    // Russia.
    p(77, 88, 8, 0, 21, 13238, [8, 4, 4, 0]),     // Yandex
    p(87, 250, 224, 0, 19, 13238, [8, 4, 0, 0]),  // Yandex
    p(213, 180, 192, 0, 19, 13238, [4, 8, 0, 0]), // Yandex mail
    p(95, 213, 0, 0, 17, 47541, [5, 0, 0, 2]),    // VK
    p(94, 100, 176, 0, 20, 47764, [3, 10, 0, 0]), // VK (mail.ru)
    p(84, 17, 0, 0, 19, 8359, [1, 6, 0, 16]),     // MTS
    p(194, 67, 0, 0, 20, 3216, [1, 6, 0, 12]),    // Vimpelcom
    // Asia and Pacific.
    p(220, 181, 0, 0, 17, 23724, [8, 4, 2, 4]), // China Telecom IDC
    p(123, 125, 0, 0, 20, 4808, [5, 6, 0, 14]), // China Unicom Beijing
    p(202, 108, 16, 0, 20, 4808, [3, 6, 2, 10]), // China Unicom Beijing
    p(61, 135, 0, 0, 17, 4808, [4, 6, 0, 10]),  // China Unicom Beijing
    p(110, 240, 0, 0, 12, 4837, [1, 8, 0, 30]), // China Unicom backbone
    p(113, 108, 0, 0, 18, 4134, [2, 8, 1, 20]), // Chinanet
    p(121, 13, 0, 0, 16, 4134, [1, 8, 0, 20]),  // Chinanet
    p(180, 76, 0, 0, 20, 55967, [6, 0, 0, 0]),  // Baidu
    p(59, 24, 0, 0, 16, 4766, [2, 8, 1, 20]),   // Korea Telecom
    p(211, 231, 98, 0, 23, 38099, [4, 2, 0, 0]), // Kakao
    p(125, 209, 192, 0, 18, 23576, [6, 4, 0, 0]), // Naver
    p(1, 201, 0, 0, 19, 9286, [1, 4, 0, 10]),   // KINX
    p(203, 104, 128, 0, 20, 38631, [4, 2, 0, 0]), // LINE
    p(210, 140, 64, 0, 18, 4694, [2, 4, 1, 6]), // IDC Frontier
    p(133, 11, 0, 0, 16, 2501, [3, 4, 2, 2]),   // University of Tokyo
    p(49, 44, 0, 0, 16, 55836, [1, 6, 0, 24]),  // Reliance Jio
    p(182, 78, 0, 0, 15, 9498, [1, 6, 0, 20]),  // Bharti Airtel
    p(36, 64, 0, 0, 15, 7713, [1, 6, 0, 18]),   // Telkom Indonesia
    p(118, 96, 0, 0, 15, 7713, [1, 6, 0, 14]),  // Telkom Indonesia
    p(1, 128, 0, 0, 11, 1221, [2, 8, 1, 14]),   // Telstra
    p(150, 101, 0, 0, 19, 4739, [1, 6, 1, 6]),  // iiNet
    p(203, 2, 218, 0, 24, 9342, [3, 0, 0, 0]),  // ABC (AU)
    // Latin America.
    p(200, 147, 0, 0, 16, 7162, [4, 6, 0, 4]),   // UOL
    p(186, 192, 80, 0, 20, 28604, [4, 0, 0, 0]), // Globo
    p(201, 17, 0, 0, 16, 28573, [1, 6, 0, 18]),  // Claro
    p(189, 0, 0, 0, 19, 26599, [1, 6, 0, 14]),   // Telefonica Brasil
    p(187, 45, 0, 0, 19, 28580, [1, 3, 0, 8]),   // Cilnet
    p(200, 160, 0, 0, 20, 22548, [2, 1, 10, 0]), // NIC.br
    p(190, 210, 0, 0, 19, 16814, [1, 4, 0, 10]), // NSS (AR)
    // Africa.
    p(41, 203, 0, 0, 19, 37153, [2, 4, 0, 4]), // Xneelo (ZA)
    p(154, 0, 0, 0, 20, 37680, [1, 3, 0, 8]),  // Cool Ideas (ZA)
    p(197, 149, 0, 0, 18, 37054, [1, 3, 0, 8]), // Telecom Malagasy
    p(105, 112, 0, 0, 21, 36873, [1, 4, 0, 12]), // Airtel Nigeria
    p(197, 242, 0, 0, 19, 37390, [1, 2, 0, 6]), // iPi9
    p(102, 132, 96, 0, 20, 32934, [6, 0, 0, 0]), // Facebook (Africa)
];

/// Cumulative weights over [`PREFIXES`] for one role, for weighted choice.
#[derive(Clone, Debug)]
pub struct Picker {
    cum: Vec<u64>,
}

impl Picker {
    /// A picker weighting each prefix by `weight`.
    pub fn new(weight: impl Fn(&Prefix) -> u32) -> Self {
        let mut acc = 0u64;
        let cum = PREFIXES
            .iter()
            .map(|p| {
                acc += u64::from(weight(p));
                acc
            })
            .collect();
        Picker { cum }
    }

    /// The index of the prefix that `r` (uniform in `0..total`) falls in.
    pub fn pick(&self, r: u64) -> usize {
        let i = self.cum.partition_point(|&c| c <= r);
        i.min(self.cum.len().saturating_sub(1))
    }

    /// Sum of weights.
    pub fn total(&self) -> u64 {
        self.cum.last().copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_aligned_public_and_varied() {
        let mut first_octets = std::collections::BTreeSet::new();
        for p in PREFIXES {
            let mask = if p.len == 0 {
                0
            } else {
                u32::MAX << (32 - p.len)
            };
            assert_eq!(p.net & !mask, 0, "{:?} not aligned", p);
            let o = p.net >> 24;
            assert!(o != 10 && o != 127 && o < 224, "{:?}", p);
            first_octets.insert(o);
        }
        assert!(first_octets.len() > 40);
    }
}
