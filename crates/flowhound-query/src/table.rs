//! Query results as plain rows of typed cells, so that callers print them
//! without knowing Arrow.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use flowhound_model::addr_to_ip;

use crate::error::QueryError;

/// One value of a result.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Anything else, as text: addresses as `10.1.2.3`, times as
    /// `2026-11-26T14:00:00Z`.
    Text(String),
}

/// A result: column names and rows.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows, each with one cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    /// The rows of record batches.
    pub fn from_batches(batches: &[RecordBatch]) -> Result<Table, QueryError> {
        let mut t = Table::default();
        if let Some(b) = batches.first() {
            t.columns = b
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
        }
        let options = FormatOptions::default().with_null("");
        for b in batches {
            let formatters = b
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| QueryError::Engine(e.to_string()))?;
            for r in 0..b.num_rows() {
                let row = b
                    .columns()
                    .iter()
                    .zip(&formatters)
                    .map(|(c, f)| cell(c.as_ref(), f, r))
                    .collect();
                t.rows.push(row);
            }
        }
        Ok(t)
    }
}

fn cell(a: &dyn Array, f: &ArrayFormatter<'_>, r: usize) -> Cell {
    if a.is_null(r) {
        return Cell::Null;
    }
    match a.data_type() {
        DataType::Int8 => Cell::Int(a.as_primitive::<Int8Type>().value(r).into()),
        DataType::Int16 => Cell::Int(a.as_primitive::<Int16Type>().value(r).into()),
        DataType::Int32 => Cell::Int(a.as_primitive::<Int32Type>().value(r).into()),
        DataType::Int64 => Cell::Int(a.as_primitive::<Int64Type>().value(r)),
        DataType::UInt8 => Cell::UInt(a.as_primitive::<UInt8Type>().value(r).into()),
        DataType::UInt16 => Cell::UInt(a.as_primitive::<UInt16Type>().value(r).into()),
        DataType::UInt32 => Cell::UInt(a.as_primitive::<UInt32Type>().value(r).into()),
        DataType::UInt64 => Cell::UInt(a.as_primitive::<UInt64Type>().value(r)),
        DataType::Float32 => Cell::Float(a.as_primitive::<Float32Type>().value(r).into()),
        DataType::Float64 => Cell::Float(a.as_primitive::<Float64Type>().value(r)),
        DataType::Boolean => Cell::Bool(a.as_boolean().value(r)),
        // Stored addresses read as addresses, whatever the column is called.
        DataType::FixedSizeBinary(16) => {
            let mut b = [0u8; 16];
            b.copy_from_slice(a.as_fixed_size_binary().value(r));
            Cell::Text(addr_to_ip(u128::from_be_bytes(b)).to_string())
        }
        _ => Cell::Text(f.value(r).to_string()),
    }
}
