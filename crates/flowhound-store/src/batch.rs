//! Columnar building of flows: one `Vec` per column, filled by
//! [`FlowSink::push`], handed to Arrow without copying.

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::types::{TimestampMillisecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type};
use arrow_array::{
    new_null_array, Array, ArrayRef, FixedSizeBinaryArray, PrimitiveArray, RecordBatch,
    StringArray, TimestampMillisecondArray,
};
use arrow_buffer::{Buffer, ScalarBuffer};
use arrow_schema::{DataType, SchemaRef};
use flowhound_model::{
    country_str, flow_schema, Addr, Enricher, FlowRecord, FlowSink, COUNTRY_NONE, COUNTRY_UNKNOWN,
};

use crate::StoreError;

/// Addresses are stored as 16 big-endian bytes. An `i128` whose in-memory
/// bytes are the big-endian address lets one push be one 16-byte store and
/// lets the `Vec` become an Arrow buffer without a copy.
#[inline]
fn addr_cell(a: Addr) -> i128 {
    i128::from_ne_bytes(a.to_be_bytes())
}

#[inline]
fn addr_from_slice(b: &[u8]) -> Addr {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(b);
    u128::from_be_bytes(bytes)
}

macro_rules! native {
    (ts) => {
        i64
    };
    (addr) => {
        i128
    };
    (u8) => {
        u8
    };
    (u16) => {
        u16
    };
    (u32) => {
        u32
    };
    (u64) => {
        u64
    };
    (cc) => {
        [u8; 2]
    };
}

macro_rules! cell {
    (addr, $v:expr) => {
        addr_cell($v)
    };
    ($kind:ident, $v:expr) => {
        $v
    };
}

macro_rules! array {
    (ts, $v:expr, $tz:expr) => {
        Arc::new(
            TimestampMillisecondArray::new(ScalarBuffer::from($v), None).with_timezone($tz.clone()),
        ) as ArrayRef
    };
    (addr, $v:expr, $tz:expr) => {
        Arc::new(FixedSizeBinaryArray::new(16, Buffer::from_vec($v), None)) as ArrayRef
    };
    (cc, $v:expr, $tz:expr) => {
        country_array(&$v)
    };
    ($kind:ident, $v:expr, $tz:expr) => {
        Arc::new(PrimitiveArray::<arrow_type!($kind)>::new(
            ScalarBuffer::from($v),
            None,
        )) as ArrayRef
    };
}

macro_rules! arrow_type {
    (ts) => {
        TimestampMillisecondType
    };
    (u8) => {
        UInt8Type
    };
    (u16) => {
        UInt16Type
    };
    (u32) => {
        UInt32Type
    };
    (u64) => {
        UInt64Type
    };
}

/// A typed view of one column of a flow batch, for reading rows back.
macro_rules! view {
    (addr, $batch:expr, $name:expr, $ctx:expr) => {
        fsb_column($batch, $name, $ctx)?
    };
    (cc, $batch:expr, $name:expr, $ctx:expr) => {
        country_column($batch, $name, $ctx)?
    };
    ($kind:ident, $batch:expr, $name:expr, $ctx:expr) => {
        primitive_column::<arrow_type!($kind)>($batch, $name, $ctx)?
    };
}

macro_rules! read {
    (addr, $view:expr, $i:expr) => {
        addr_from_slice(&$view[$i * 16..$i * 16 + 16])
    };
    (cc, $view:expr, $i:expr) => {
        country_at($view, $i)
    };
    ($kind:ident, $view:expr, $i:expr) => {
        $view[$i]
    };
}

macro_rules! flow_batch {
    ($( $field:ident : $kind:ident ),* $(,)?) => {
        /// Columnar builder of flows: one `Vec` per column, no allocation per
        /// flow. Decoders push into it through [`FlowSink`]; [`FlowBatch::take`]
        /// turns it into an Arrow [`RecordBatch`] of [`flow_schema`] without
        /// copying the columns.
        #[derive(Debug)]
        pub struct FlowBatch {
            schema: SchemaRef,
            capacity: usize,
            $( $field: Vec<native!($kind)>, )*
        }

        impl FlowBatch {
            /// An empty batch with room for `n` flows in every column.
            pub fn with_capacity(n: usize) -> Self {
                FlowBatch {
                    schema: flow_schema(),
                    capacity: n,
                    $( $field: Vec::with_capacity(n), )*
                }
            }

            /// Number of flows in the batch.
            pub fn len(&self) -> usize {
                self.time_start.len()
            }

            /// Whether the batch holds no flow.
            pub fn is_empty(&self) -> bool {
                self.time_start.is_empty()
            }

            /// Drops every flow, keeping the allocations.
            pub fn clear(&mut self) {
                $( self.$field.clear(); )*
            }

            /// Moves the flows out as a [`RecordBatch`] without copying them,
            /// leaving the batch empty with fresh columns of the original
            /// capacity. This is the collector's path.
            pub fn take(&mut self) -> RecordBatch {
                let cap = self.capacity;
                let tz: Arc<str> = Arc::from("UTC");
                let columns: Vec<ArrayRef> = vec![
                    $( array!($kind, std::mem::replace(&mut self.$field, Vec::with_capacity(cap)), tz), )*
                ];
                self.finish(columns)
            }

            /// A [`RecordBatch`] with a copy of the flows; the batch keeps them.
            pub fn to_record_batch(&self) -> RecordBatch {
                let tz: Arc<str> = Arc::from("UTC");
                let columns: Vec<ArrayRef> = vec![
                    $( array!($kind, self.$field.clone(), tz), )*
                ];
                self.finish(columns)
            }

            /// The flow at `i`, if any.
            pub fn get(&self, i: usize) -> Option<FlowRecord> {
                if i >= self.len() {
                    return None;
                }
                let mut f = FlowRecord::default();
                $( f.$field = read_own!($kind, self.$field[i]); )*
                Some(f)
            }
        }

        impl FlowSink for FlowBatch {
            #[inline]
            fn push(&mut self, flow: &FlowRecord) {
                $( self.$field.push(cell!($kind, flow.$field)); )*
            }
        }

        /// Reads the flows of a batch of [`flow_schema`] back into records.
        ///
        /// Columns are found by name, so their order does not matter, but all
        /// of them must be there with their schema types. Meant for tests and
        /// tools; queries work on the columns.
        pub fn records_from_batch(batch: &RecordBatch) -> Result<Vec<FlowRecord>, StoreError> {
            let ctx = "record batch";
            $( let $field = view!($kind, batch, stringify!($field), ctx); )*
            let mut out = Vec::with_capacity(batch.num_rows());
            for i in 0..batch.num_rows() {
                out.push(FlowRecord {
                    $( $field: read!($kind, $field, i), )*
                });
            }
            Ok(out)
        }
    };
}

macro_rules! read_own {
    (addr, $v:expr) => {
        u128::from_be_bytes($v.to_ne_bytes())
    };
    ($kind:ident, $v:expr) => {
        $v
    };
}

flow_batch! {
    time_start: ts,
    time_end: ts,
    exporter: addr,
    domain_id: u32,
    src_ip: addr,
    dst_ip: addr,
    next_hop: addr,
    src_port: u16,
    dst_port: u16,
    proto: u8,
    tcp_flags: u8,
    tos: u8,
    direction: u8,
    src_mask: u8,
    dst_mask: u8,
    end_reason: u8,
    version: u8,
    in_if: u32,
    out_if: u32,
    src_as: u32,
    dst_as: u32,
    packets: u64,
    bytes: u64,
    src_vlan: u16,
    dst_vlan: u16,
    src_mac: u64,
    dst_mac: u64,
    sampling_rate: u32,
    src_country: cc,
    dst_country: cc,
}

/// A country column: null where no registry was asked. A batch without
/// any enrichment (no registry configured) is one null array.
fn country_array(v: &[[u8; 2]]) -> ArrayRef {
    if v.iter().all(|c| *c == COUNTRY_NONE) {
        return new_null_array(&DataType::Utf8, v.len());
    }
    let mut b = StringBuilder::with_capacity(v.len(), v.len() * 2);
    for c in v {
        match country_str(c) {
            Some(s) => b.append_value(s),
            None => b.append_null(),
        }
    }
    Arc::new(b.finish())
}

/// A country column found by name; files written before countries were
/// stored have none, and read back as [`COUNTRY_NONE`].
fn country_column<'a>(
    batch: &'a RecordBatch,
    name: &str,
    ctx: &str,
) -> Result<Option<&'a StringArray>, StoreError> {
    match batch.column_by_name(name) {
        None => Ok(None),
        Some(col) => col
            .as_any()
            .downcast_ref::<StringArray>()
            .map(Some)
            .ok_or_else(|| {
                StoreError::schema(ctx, format!("column {name} is {}", col.data_type()))
            }),
    }
}

fn country_at(col: Option<&StringArray>, i: usize) -> [u8; 2] {
    match col {
        Some(a) if a.is_valid(i) => match a.value(i).as_bytes() {
            [x, y] => [*x, *y],
            _ => COUNTRY_UNKNOWN,
        },
        _ => COUNTRY_NONE,
    }
}

impl FlowBatch {
    /// Ask `enricher` about the flows from index `from` on: countries, and
    /// AS numbers where the exporter sent none. Column-wise, in place.
    pub fn enrich(&mut self, from: usize, enricher: &dyn Enricher) {
        let n = self.len();
        for i in from.min(n)..n {
            let mut f = FlowRecord {
                src_ip: read_own!(addr, self.src_ip[i]),
                dst_ip: read_own!(addr, self.dst_ip[i]),
                src_as: self.src_as[i],
                dst_as: self.dst_as[i],
                ..FlowRecord::default()
            };
            enricher.enrich(&mut f);
            self.src_as[i] = f.src_as;
            self.dst_as[i] = f.dst_as;
            self.src_country[i] = f.src_country;
            self.dst_country[i] = f.dst_country;
        }
    }

    fn finish(&self, columns: Vec<ArrayRef>) -> RecordBatch {
        // The columns are built from the schema's own field list above, so a
        // mismatch is a bug in this file, caught by the round-trip tests.
        #[allow(clippy::expect_used)]
        RecordBatch::try_new(self.schema.clone(), columns)
            .expect("FlowBatch columns match flow_schema")
    }
}

impl Default for FlowBatch {
    fn default() -> Self {
        FlowBatch::with_capacity(0)
    }
}

impl Extend<FlowRecord> for FlowBatch {
    fn extend<I: IntoIterator<Item = FlowRecord>>(&mut self, iter: I) {
        for f in iter {
            self.push(&f);
        }
    }
}

impl<'a> Extend<&'a FlowRecord> for FlowBatch {
    fn extend<I: IntoIterator<Item = &'a FlowRecord>>(&mut self, iter: I) {
        for f in iter {
            self.push(f);
        }
    }
}

impl FromIterator<FlowRecord> for FlowBatch {
    fn from_iter<I: IntoIterator<Item = FlowRecord>>(iter: I) -> Self {
        let mut b = FlowBatch::default();
        b.extend(iter);
        b
    }
}

/// The values of a primitive column, found by name.
pub(crate) fn primitive_column<'a, T: arrow_array::ArrowPrimitiveType>(
    batch: &'a RecordBatch,
    name: &str,
    ctx: &str,
) -> Result<&'a [T::Native], StoreError> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| StoreError::schema(ctx, format!("no column {name}")))?;
    let arr = col
        .as_any()
        .downcast_ref::<PrimitiveArray<T>>()
        .ok_or_else(|| {
            StoreError::schema(
                ctx,
                format!(
                    "column {name} is {}, expected {}",
                    col.data_type(),
                    T::DATA_TYPE
                ),
            )
        })?;
    Ok(arr.values())
}

/// The bytes of a 16-byte address column, found by name.
pub(crate) fn fsb_column<'a>(
    batch: &'a RecordBatch,
    name: &str,
    ctx: &str,
) -> Result<&'a [u8], StoreError> {
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| StoreError::schema(ctx, format!("no column {name}")))?;
    match col.as_any().downcast_ref::<FixedSizeBinaryArray>() {
        Some(arr) if arr.value_length() == 16 => Ok(arr.value_data()),
        _ => Err(StoreError::schema(
            ctx,
            format!(
                "column {name} is {}, expected FixedSizeBinary(16)",
                col.data_type()
            ),
        )),
    }
}

/// Whether a batch has exactly the flow schema (names and types, in order).
pub(crate) fn check_schema(batch: &RecordBatch, ctx: &str) -> Result<(), StoreError> {
    let want = flow_schema();
    let got = batch.schema();
    if got.fields().len() != want.fields().len() {
        return Err(StoreError::schema(
            ctx,
            format!(
                "{} columns, expected {}",
                got.fields().len(),
                want.fields().len()
            ),
        ));
    }
    for (g, w) in got.fields().iter().zip(want.fields().iter()) {
        if g.name() != w.name() || g.data_type() != w.data_type() {
            return Err(StoreError::schema(
                ctx,
                format!(
                    "column {} {} where {} {} expected",
                    g.name(),
                    g.data_type(),
                    w.name(),
                    w.data_type()
                ),
            ));
        }
    }
    Ok(())
}
