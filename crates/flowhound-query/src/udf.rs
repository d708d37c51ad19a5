//! Scalar functions the engine adds to DataFusion: address sets, prefixes,
//! nfdump's per-flow rates, and the address helpers SQL users call.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{TimestampMillisecondType, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeBinaryArray, StringArray, UInt32Array, UInt64Array,
};
use arrow_schema::DataType;
use datafusion::common::{exec_err, plan_err, Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};
use flowhound_filter::{counter_value, AddrSet, CounterField};
use flowhound_model::{
    addr_from_v4, addr_from_v6, addr_to_ip, Addr, Enricher, FlowRecord, COUNTRY_UNKNOWN,
};

/// All arguments as arrays of `rows` rows.
fn arrays(args: &ScalarFunctionArgs) -> Result<Vec<ArrayRef>> {
    args.args
        .iter()
        .map(|a| a.clone().into_array(args.number_rows))
        .collect()
}

fn fixed16(a: &ArrayRef) -> Result<&FixedSizeBinaryArray> {
    match a.as_fixed_size_binary_opt() {
        Some(f) if f.value_length() == 16 => Ok(f),
        _ => exec_err!("expected a 16-byte address, got {}", a.data_type()),
    }
}

#[inline]
fn addr_at(a: &FixedSizeBinaryArray, i: usize) -> Addr {
    let mut b = [0u8; 16];
    b.copy_from_slice(a.value(i));
    u128::from_be_bytes(b)
}

/// `addr_in_set(address)`: whether the address lies in a set of ranges, by
/// binary search, so that `ip in [ thousands of prefixes ]` costs O(log n)
/// per row instead of one comparison per prefix.
#[derive(Debug)]
pub(crate) struct AddrInSet {
    name: String,
    set: AddrSet,
    signature: Signature,
}

impl PartialEq for AddrInSet {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.set == other.set
    }
}
impl Eq for AddrInSet {}
impl Hash for AddrInSet {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.set.ranges().hash(state);
    }
}

impl AddrInSet {
    pub(crate) fn udf(set: AddrSet) -> ScalarUDF {
        // The name shows in plans; the ranges make the expression unique.
        let (lo, hi) = (set.ranges()[0].0, set.ranges()[set.ranges().len() - 1].1);
        let name = format!(
            "addr_in_set_{}_{}_{}",
            set.ranges().len(),
            addr_to_ip(lo),
            addr_to_ip(hi)
        );
        ScalarUDF::new_from_impl(AddrInSet {
            name,
            set,
            signature: Signature::exact(vec![DataType::FixedSizeBinary(16)], Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for AddrInSet {
    fn name(&self) -> &str {
        &self.name
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let a = arrays(&args)?;
        let col = fixed16(&a[0])?;
        let out: BooleanArray = (0..col.len())
            .map(|i| Some(col.is_valid(i) && self.set.contains(addr_at(col, i))))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `pps|bps|bpp|duration(packets, bytes, time_start, time_end)`: nfdump's
/// per-flow quantities, computed by the filter crate's own function so that
/// the engine and the reference evaluator cannot disagree.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct FlowCounter {
    field: CounterKind,
    signature: Signature,
}

#[derive(Debug, PartialEq, Eq, Hash, Clone, Copy)]
enum CounterKind {
    Duration,
    Pps,
    Bps,
    Bpp,
}

impl FlowCounter {
    /// The function for a computed counter, or `None` for a stored one.
    pub(crate) fn udf(field: CounterField) -> Option<ScalarUDF> {
        let field = match field {
            CounterField::Duration => CounterKind::Duration,
            CounterField::Pps => CounterKind::Pps,
            CounterField::Bps => CounterKind::Bps,
            CounterField::Bpp => CounterKind::Bpp,
            _ => return None,
        };
        let ts = DataType::Timestamp(arrow_schema::TimeUnit::Millisecond, Some("UTC".into()));
        Some(ScalarUDF::new_from_impl(FlowCounter {
            field,
            signature: Signature::exact(
                vec![DataType::UInt64, DataType::UInt64, ts.clone(), ts],
                Volatility::Immutable,
            ),
        }))
    }
}

impl ScalarUDFImpl for FlowCounter {
    fn name(&self) -> &str {
        match self.field {
            CounterKind::Duration => "flow_duration",
            CounterKind::Pps => "flow_pps",
            CounterKind::Bps => "flow_bps",
            CounterKind::Bpp => "flow_bpp",
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::UInt64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let a = arrays(&args)?;
        let packets = a[0].as_primitive::<UInt64Type>();
        let bytes = a[1].as_primitive::<UInt64Type>();
        let start = a[2].as_primitive::<TimestampMillisecondType>();
        let end = a[3].as_primitive::<TimestampMillisecondType>();
        let field = match self.field {
            CounterKind::Duration => CounterField::Duration,
            CounterKind::Pps => CounterField::Pps,
            CounterKind::Bps => CounterField::Bps,
            CounterKind::Bpp => CounterField::Bpp,
        };
        let out: UInt64Array = (0..packets.len())
            .map(|i| {
                let f = FlowRecord {
                    packets: packets.value(i),
                    bytes: bytes.value(i),
                    time_start: start.value(i),
                    time_end: end.value(i),
                    ..FlowRecord::default()
                };
                Some(counter_value(field, &f))
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `ip_str(address)`: the address as text (`10.1.2.3`, `2001:db8::1`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct IpStr {
    signature: Signature,
}

impl IpStr {
    pub(crate) fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(IpStr {
            signature: Signature::exact(vec![DataType::FixedSizeBinary(16)], Volatility::Immutable),
        })
    }
}

impl ScalarUDFImpl for IpStr {
    fn name(&self) -> &str {
        "ip_str"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let a = arrays(&args)?;
        let col = fixed16(&a[0])?;
        let out: StringArray = (0..col.len())
            .map(|i| {
                col.is_valid(i)
                    .then(|| addr_to_ip(addr_at(col, i)).to_string())
            })
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// Parse an address as users type it, IPv4 mapped into IPv6.
pub(crate) fn parse_addr(s: &str) -> Option<Addr> {
    match s.trim().parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(addr_from_v4(v4.into())),
        IpAddr::V6(v6) => Some(addr_from_v6(v6.octets())),
    }
}

/// `ip('10.1.2.3')`: text to the stored 16-byte form, for comparisons in SQL
/// (`WHERE src_ip = ip('10.1.2.3')`). A literal that is not an address is an
/// error, not a silent NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct IpParse {
    signature: Signature,
}

impl IpParse {
    pub(crate) fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(IpParse {
            signature: Signature::one_of(
                vec![
                    TypeSignature::Exact(vec![DataType::Utf8]),
                    TypeSignature::Exact(vec![DataType::Utf8View]),
                    TypeSignature::Exact(vec![DataType::LargeUtf8]),
                ],
                Volatility::Immutable,
            ),
        })
    }
}

impl ScalarUDFImpl for IpParse {
    fn name(&self) -> &str {
        "ip"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::FixedSizeBinary(16))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let one = |s: Option<&str>| -> Result<Option<[u8; 16]>> {
            match s {
                None => Ok(None),
                Some(s) => match parse_addr(s) {
                    Some(a) => Ok(Some(a.to_be_bytes())),
                    None => plan_err!("ip('{s}'): not an IPv4 or IPv6 address"),
                },
            }
        };
        if let ColumnarValue::Scalar(s) = &args.args[0] {
            let text = match s {
                ScalarValue::Utf8(v) | ScalarValue::Utf8View(v) | ScalarValue::LargeUtf8(v) => {
                    v.as_deref()
                }
                other => return exec_err!("ip() takes text, got {}", other.data_type()),
            };
            let v = one(text)?.map(|b| b.to_vec());
            return Ok(ColumnarValue::Scalar(ScalarValue::FixedSizeBinary(16, v)));
        }
        let a = arrays(&args)?;
        let a = datafusion::arrow::compute::cast(&a[0], &DataType::Utf8)?;
        let s = a.as_string::<i32>();
        let v = (0..s.len())
            .map(|i| one(s.is_valid(i).then(|| s.value(i))))
            .collect::<Result<Vec<_>>>()?;
        let out = FixedSizeBinaryArray::try_from_sparse_iter_with_size(v.into_iter(), 16)?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// `ip_mask(address, v4_len, v6_len)`: the address with the host bits
/// cleared, IPv4 addresses to `v4_len` bits, IPv6 ones to `v6_len` (lengths
/// are columns, such as `src_mask`, or constants).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct IpMask {
    signature: Signature,
}

impl IpMask {
    pub(crate) fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(IpMask {
            signature: Signature::exact(
                vec![
                    DataType::FixedSizeBinary(16),
                    DataType::UInt8,
                    DataType::UInt8,
                ],
                Volatility::Immutable,
            ),
        })
    }
}

/// `a` with all but the first `len` bits of its family cleared.
pub(crate) fn mask_addr(a: Addr, v4_len: u8, v6_len: u8) -> Addr {
    if flowhound_model::addr_to_ip(a).is_ipv4() {
        let len = v4_len.min(32);
        let keep: u128 = if len == 0 {
            0
        } else {
            (u32::MAX << (32 - len)) as u128
        };
        (a & !0xffff_ffff) | (a & keep)
    } else {
        let len = v6_len.min(128);
        let keep: u128 = if len == 0 {
            0
        } else {
            u128::MAX << (128 - len)
        };
        a & keep
    }
}

impl ScalarUDFImpl for IpMask {
    fn name(&self) -> &str {
        "ip_mask"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::FixedSizeBinary(16))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let a = arrays(&args)?;
        let col = fixed16(&a[0])?;
        let l4 = a[1].as_primitive::<UInt8Type>();
        let l6 = a[2].as_primitive::<UInt8Type>();
        let v = (0..col.len()).map(|i| {
            col.is_valid(i)
                .then(|| mask_addr(addr_at(col, i), l4.value(i), l6.value(i)).to_be_bytes())
        });
        let out = FixedSizeBinaryArray::try_from_sparse_iter_with_size(v, 16)?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// What a registry function asks of the [`Enricher`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum RegistryKind {
    /// `country(ip)`: ISO code, `??` when unknown.
    Country,
    /// `asn(ip)`: AS number, 0 when unknown.
    Asn,
    /// `as_org(asn)`: the AS's organisation, null when unknown.
    AsOrg,
}

/// `country(ip)`, `asn(ip)`, `as_org(asn)`: the registries of `--config`,
/// for flows stored before a registry existed and for SQL users.
pub(crate) struct RegistryFn {
    kind: RegistryKind,
    enricher: Arc<dyn Enricher>,
    signature: Signature,
}

impl std::fmt::Debug for RegistryFn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryFn")
            .field("kind", &self.kind)
            .finish()
    }
}

impl PartialEq for RegistryFn {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && Arc::ptr_eq(&self.enricher, &other.enricher)
    }
}
impl Eq for RegistryFn {}
impl Hash for RegistryFn {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.kind.hash(state);
    }
}

impl RegistryFn {
    fn udf(kind: RegistryKind, enricher: Arc<dyn Enricher>) -> ScalarUDF {
        let arg = match kind {
            RegistryKind::Country | RegistryKind::Asn => DataType::FixedSizeBinary(16),
            RegistryKind::AsOrg => DataType::UInt32,
        };
        ScalarUDF::new_from_impl(RegistryFn {
            kind,
            enricher,
            signature: Signature::exact(vec![arg], Volatility::Immutable),
        })
    }

    /// `country(ip)`.
    pub(crate) fn country(enricher: Arc<dyn Enricher>) -> ScalarUDF {
        Self::udf(RegistryKind::Country, enricher)
    }

    /// `asn(ip)`.
    pub(crate) fn asn(enricher: Arc<dyn Enricher>) -> ScalarUDF {
        Self::udf(RegistryKind::Asn, enricher)
    }

    /// `as_org(asn)`.
    pub(crate) fn as_org(enricher: Arc<dyn Enricher>) -> ScalarUDF {
        Self::udf(RegistryKind::AsOrg, enricher)
    }
}

impl ScalarUDFImpl for RegistryFn {
    fn name(&self) -> &str {
        match self.kind {
            RegistryKind::Country => "country",
            RegistryKind::Asn => "asn",
            RegistryKind::AsOrg => "as_org",
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            RegistryKind::Country | RegistryKind::AsOrg => DataType::Utf8,
            RegistryKind::Asn => DataType::UInt32,
        })
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let a = arrays(&args)?;
        let e = self.enricher.as_ref();
        if args.number_rows > 0 {
            if let Err(why) = e.ready() {
                return exec_err!("the registry cannot be read: {why}");
            }
        }
        let out: ArrayRef = match self.kind {
            RegistryKind::Country => {
                let col = fixed16(&a[0])?;
                // No source of countries: still unknown, not `??`.
                let known = e.has_countries();
                let codes: StringArray = (0..col.len())
                    .map(|i| {
                        (known && col.is_valid(i)).then(|| {
                            let c = e.country(addr_at(col, i)).unwrap_or(COUNTRY_UNKNOWN);
                            String::from_utf8_lossy(&c).into_owned()
                        })
                    })
                    .collect();
                Arc::new(codes)
            }
            RegistryKind::Asn => {
                let col = fixed16(&a[0])?;
                let n: UInt32Array = (0..col.len())
                    .map(|i| {
                        col.is_valid(i)
                            .then(|| e.as_number(addr_at(col, i)).unwrap_or(0))
                    })
                    .collect();
                Arc::new(n)
            }
            RegistryKind::AsOrg => {
                let col = a[0].as_primitive_opt::<UInt32Type>();
                let Some(col) = col else {
                    return exec_err!("as_org takes an AS number, got {}", a[0].data_type());
                };
                // One registry scan per distinct AS of the batch, not per row.
                let mut seen: std::collections::HashMap<u32, Option<&str>> =
                    std::collections::HashMap::new();
                let names: StringArray = col
                    .iter()
                    .map(|n| n.and_then(|n| *seen.entry(n).or_insert_with(|| e.as_org(n))))
                    .collect();
                Arc::new(names)
            }
        };
        Ok(ColumnarValue::Array(out))
    }
}
