//! Sorted, non-overlapping range tables: what every registry and inventory
//! list is flattened into at load time, so that a lookup is a short binary
//! search over plain arrays and never a walk through a file format's tree.

use std::collections::BTreeMap;

/// An address key: `u32` for IPv4 tables, `u128` for IPv6 ones.
pub(crate) trait Key: Copy + Ord + std::fmt::Debug {
    /// `self + 1`; never called on the largest key.
    fn succ(self) -> Self;
    /// `self - 1`; never called on zero.
    fn pred(self) -> Self;
    /// The top 16 bits, for the first-level index.
    fn bucket(self) -> usize;
    /// `self - other` as a u128 (other <= self).
    fn span(self, other: Self) -> u128;
}

impl Key for u32 {
    #[inline]
    fn succ(self) -> Self {
        self + 1
    }
    #[inline]
    fn pred(self) -> Self {
        self - 1
    }
    #[inline]
    fn bucket(self) -> usize {
        (self >> 16) as usize
    }
    #[inline]
    fn span(self, other: Self) -> u128 {
        u128::from(self - other)
    }
}

impl Key for u128 {
    #[inline]
    fn succ(self) -> Self {
        self + 1
    }
    #[inline]
    fn pred(self) -> Self {
        self - 1
    }
    #[inline]
    fn bucket(self) -> usize {
        (self >> 112) as usize
    }
    #[inline]
    fn span(self, other: Self) -> u128 {
        self - other
    }
}

/// One inclusive range `first..=last` with its value.
pub(crate) type Range<K, V> = (K, K, V);

/// Tables shorter than this are searched without the first-level index.
const INDEX_MIN_LEN: usize = 256;
const BUCKETS: usize = 1 << 16;

/// A sorted table of non-overlapping inclusive ranges with a value each.
///
/// A lookup narrows the search with a direct index on the key's top 16 bits
/// (one load), then binary-searches the few range starts in that bucket.
#[derive(Debug, Clone)]
pub(crate) struct RangeMap<K, V> {
    starts: Vec<K>,
    /// The end and value of each range, beside each other: one cache line.
    tails: Vec<(K, V)>,
    /// `index[b]` is the first range whose start has top bits `>= b`.
    index: Vec<u32>,
}

impl<K: Key, V: Copy + PartialEq> RangeMap<K, V> {
    /// A table from ranges that are sorted and do not overlap; adjacent
    /// ranges with the same value are joined.
    pub(crate) fn from_sorted(ranges: Vec<Range<K, V>>) -> Self {
        let mut starts = Vec::with_capacity(ranges.len());
        let mut tails: Vec<(K, V)> = Vec::with_capacity(ranges.len());
        for (s, e, v) in ranges {
            if let Some(last) = tails.last_mut() {
                debug_assert!(last.0 < s, "ranges overlap or are unsorted");
                if last.1 == v && last.0.succ() == s {
                    last.0 = e;
                    continue;
                }
            }
            starts.push(s);
            tails.push((e, v));
        }
        starts.shrink_to_fit();
        tails.shrink_to_fit();
        let mut index = Vec::new();
        if starts.len() >= INDEX_MIN_LEN {
            index.reserve_exact(BUCKETS + 1);
            let mut i = 0usize;
            for b in 0..=BUCKETS {
                while i < starts.len() && starts[i].bucket() < b {
                    i += 1;
                }
                index.push(i as u32);
            }
        }
        RangeMap {
            starts,
            tails,
            index,
        }
    }

    /// The value of the range holding `k`.
    #[inline]
    pub(crate) fn get(&self, k: K) -> Option<V> {
        let j = if self.index.is_empty() {
            self.starts.partition_point(|&s| s <= k)
        } else {
            let b = k.bucket();
            let lo = self.index[b] as usize;
            let hi = self.index[b + 1] as usize;
            lo + self.starts[lo..hi].partition_point(|&s| s <= k)
        };
        let i = j.checked_sub(1)?;
        let (end, v) = self.tails[i];
        (k <= end).then_some(v)
    }

    /// Number of ranges after joining.
    pub(crate) fn len(&self) -> usize {
        self.starts.len()
    }

    /// The ranges, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Range<K, V>> + '_ {
        self.starts
            .iter()
            .zip(&self.tails)
            .map(|(&s, &(e, v))| (s, e, v))
    }
}

impl<K: Key, V: Copy + PartialEq> Default for RangeMap<K, V> {
    fn default() -> Self {
        Self::from_sorted(Vec::new())
    }
}

/// Sort one source's ranges; where they overlap, the narrowest range wins
/// (ties: the one given first), as in a longest-prefix match.
pub(crate) fn flatten_most_specific<K: Key, V: Copy>(
    mut ranges: Vec<Range<K, V>>,
) -> Vec<Range<K, V>> {
    ranges.retain(|r| r.0 <= r.1);
    ranges.sort_by_key(|r| (r.0, r.1));
    if ranges.windows(2).all(|w| w[0].1 < w[1].0) {
        return ranges;
    }
    // Stable: equal spans keep the order given (after sorting by start).
    ranges.sort_by_key(|r| r.1.span(r.0));
    paint(ranges)
}

/// Paint ranges given in priority order: each one only fills what the
/// earlier ones left uncovered.
pub(crate) fn paint<K: Key, V: Copy>(
    by_priority: impl IntoIterator<Item = Range<K, V>>,
) -> Vec<Range<K, V>> {
    let mut map: BTreeMap<K, (K, V)> = BTreeMap::new();
    let mut pieces = Vec::new();
    for (s, e, v) in by_priority {
        let mut cur = s;
        if let Some((_, &(pe, _))) = map.range(..=s).next_back() {
            if pe >= s {
                if pe >= e {
                    continue;
                }
                cur = pe.succ();
            }
        }
        loop {
            let next = map.range(cur..).next().map(|(&ns, &(ne, _))| (ns, ne));
            match next {
                Some((ns, ne)) if ns <= e => {
                    if ns > cur {
                        pieces.push((cur, ns.pred()));
                    }
                    if ne >= e {
                        break;
                    }
                    cur = ne.succ();
                }
                _ => {
                    pieces.push((cur, e));
                    break;
                }
            }
        }
        for (a, b) in pieces.drain(..) {
            map.insert(a, (b, v));
        }
    }
    map.into_iter().map(|(s, (e, v))| (s, e, v)).collect()
}

/// Layer flattened sources: `upper` wins, `lower` fills its gaps. Both are
/// sorted and non-overlapping; so is the result.
pub(crate) fn overlay<K: Key, V: Copy>(
    upper: Vec<Range<K, V>>,
    lower: &[Range<K, V>],
) -> Vec<Range<K, V>> {
    if upper.is_empty() {
        return lower.to_vec();
    }
    let mut gaps = Vec::new();
    let mut j = 0;
    for &(s, e, v) in lower {
        while j < upper.len() && upper[j].1 < s {
            j += 1;
        }
        let mut cur = s;
        let mut covered = false;
        while j < upper.len() && upper[j].0 <= e {
            let (us, ue, _) = upper[j];
            if us > cur {
                gaps.push((cur, us.pred(), v));
            }
            if ue >= e {
                covered = true;
                break;
            }
            cur = ue.succ();
            j += 1;
        }
        if !covered {
            gaps.push((cur, e, v));
        }
    }
    if gaps.is_empty() {
        return upper;
    }
    let mut all = upper;
    all.extend(gaps);
    all.sort_by_key(|r| r.0);
    all
}

/// A set of addresses (IPs and CIDRs, both families as [`flowhound_model::Addr`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct AddrSet {
    map: RangeMap<u128, ()>,
}

impl AddrSet {
    /// The union of the given inclusive ranges.
    pub(crate) fn from_ranges(mut ranges: Vec<(u128, u128)>) -> Self {
        ranges.sort_unstable();
        let mut merged: Vec<Range<u128, ()>> = Vec::with_capacity(ranges.len());
        for (s, e) in ranges {
            match merged.last_mut() {
                Some(last) if last.1 == u128::MAX || s <= last.1 + 1 => {
                    last.1 = last.1.max(e);
                }
                _ => merged.push((s, e, ())),
            }
        }
        AddrSet {
            map: RangeMap::from_sorted(merged),
        }
    }

    /// Whether `a` is in the set.
    #[inline]
    pub(crate) fn contains(&self, a: u128) -> bool {
        self.map.get(a).is_some()
    }

    /// Whether the set is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// The set as sorted, disjoint inclusive ranges.
    pub(crate) fn ranges(&self) -> Vec<(u128, u128)> {
        self.map.iter().map(|r| (r.0, r.1)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_with_and_without_index() {
        for n in [3u32, 5000] {
            let ranges: Vec<_> = (0..n).map(|i| (i * 100_000, i * 100_000 + 9, i)).collect();
            let m = RangeMap::from_sorted(ranges);
            assert_eq!(m.get(0), Some(0));
            assert_eq!(m.get(9), Some(0));
            assert_eq!(m.get(10), None);
            assert_eq!(m.get(200_005), Some(2));
            assert_eq!(m.get(u32::MAX), None);
        }
        let empty: RangeMap<u32, u8> = RangeMap::default();
        assert_eq!(empty.get(5), None);
    }

    #[test]
    fn adjacent_equal_values_join() {
        let m = RangeMap::from_sorted(vec![(0u32, 9, 'a'), (10, 19, 'a'), (20, 29, 'b')]);
        assert_eq!(m.len(), 2);
        assert_eq!(m.get(15), Some('a'));
    }

    #[test]
    fn narrowest_range_wins_inside_one_source() {
        let flat = flatten_most_specific(vec![(0u32, 100, 'w'), (10, 20, 'n'), (90, 200, 'x')]);
        let m = RangeMap::from_sorted(flat);
        assert_eq!(m.get(5), Some('w'));
        assert_eq!(m.get(15), Some('n'));
        assert_eq!(m.get(21), Some('w'));
        // 90..=100: 'w' spans 101, 'x' spans 111, so 'w' is narrower.
        assert_eq!(m.get(95), Some('w'));
        assert_eq!(m.get(150), Some('x'));
    }

    #[test]
    fn overlay_fills_only_gaps() {
        let upper = vec![(10u32, 19, 'u'), (30, 39, 'u')];
        let lower = vec![(0u32, 50, 'l'), (60, 70, 'l')];
        let out = overlay(upper, &lower);
        assert_eq!(
            out,
            vec![
                (0, 9, 'l'),
                (10, 19, 'u'),
                (20, 29, 'l'),
                (30, 39, 'u'),
                (40, 50, 'l'),
                (60, 70, 'l')
            ]
        );
    }

    #[test]
    fn paint_handles_the_top_of_the_space() {
        let out = paint(vec![(u128::MAX - 5, u128::MAX, 1), (0, u128::MAX, 2)]);
        assert_eq!(
            out,
            vec![(0, u128::MAX - 6, 2), (u128::MAX - 5, u128::MAX, 1)]
        );
    }

    #[test]
    fn addr_set_unions() {
        let s = AddrSet::from_ranges(vec![(10, 20), (15, 30), (31, 31), (100, 100)]);
        assert!(s.contains(10) && s.contains(31) && s.contains(100));
        assert!(!s.contains(32) && !s.contains(9));
    }
}
