//! Reading flows back: the [`FlowStore`] seam and the local Parquet store.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    Array, BooleanArray, RecordBatch, RecordBatchOptions, TimestampMillisecondArray,
};
use arrow_schema::{ArrowError, Schema, SchemaRef};
use flowhound_model::{flow_schema, Column};
use parquet::arrow::arrow_reader::{
    ArrowPredicateFn, ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowFilter,
};
use parquet::arrow::ProjectionMask;
use parquet::file::statistics::Statistics;

use crate::layout;
use crate::window::TimeWindow;
use crate::StoreError;

/// The batches of a scan, each read lazily.
pub type BatchIter = Box<dyn Iterator<Item = Result<RecordBatch, StoreError>> + Send>;

/// Where queries find flows. The local Parquet store implements it now; a
/// ClickHouse cluster later.
pub trait FlowStore {
    /// The files that may hold flows of `window` (all when `None`), oldest
    /// hour first. Engines that read the files themselves (DataFusion) start here.
    fn files(&self, window: Option<TimeWindow>) -> Result<Vec<PathBuf>, StoreError>;

    /// The flows whose `time_start` is in `window` (all when `None`), with
    /// `columns` in that order. Batches come file by file; an error in one
    /// file is returned in its place and the scan goes on with the next.
    fn scan(&self, window: Option<TimeWindow>, columns: &[Column])
        -> Result<BatchIter, StoreError>;
}

/// The flows of one data directory (`DIR/flows/YYYY/MM/DD/HH/*.parquet`).
#[derive(Clone, Debug)]
pub struct LocalStore {
    flows_dir: PathBuf,
    batch_size: usize,
}

impl LocalStore {
    /// The store of `data_dir`. Nothing is read until asked.
    pub fn new(data_dir: &Path) -> Self {
        LocalStore {
            flows_dir: data_dir.join("flows"),
            batch_size: 64 * 1024,
        }
    }

    /// Rows per batch returned by [`FlowStore::scan`] (at most).
    pub fn with_batch_size(mut self, rows: usize) -> Self {
        self.batch_size = rows.max(1);
        self
    }
}

impl FlowStore for LocalStore {
    fn files(&self, window: Option<TimeWindow>) -> Result<Vec<PathBuf>, StoreError> {
        let mut out = Vec::new();
        for p in layout::partitions(&self.flows_dir, window)? {
            out.extend(layout::files(&p)?.into_iter().map(|f| f.path));
        }
        Ok(out)
    }

    fn scan(
        &self,
        window: Option<TimeWindow>,
        columns: &[Column],
    ) -> Result<BatchIter, StoreError> {
        let files = self.files(window)?;
        let full = flow_schema();
        let fields: Vec<_> = columns
            .iter()
            .map(|c| full.field_with_name(c.name()).cloned())
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError::schema("scan", e.to_string()))?;
        Ok(Box::new(Scan {
            files: files.into_iter(),
            current: None,
            window,
            columns: columns.to_vec(),
            schema: Arc::new(Schema::new(fields)),
            batch_size: self.batch_size,
        }))
    }
}

struct Scan {
    files: std::vec::IntoIter<PathBuf>,
    current: Option<(PathBuf, ParquetRecordBatchReader)>,
    window: Option<TimeWindow>,
    columns: Vec<Column>,
    schema: SchemaRef,
    batch_size: usize,
}

impl Iterator for Scan {
    type Item = Result<RecordBatch, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((path, reader)) = &mut self.current {
                match reader.next() {
                    Some(Ok(b)) => {
                        let out = arrange(&b, &self.columns, &self.schema, path);
                        return Some(out);
                    }
                    Some(Err(e)) => {
                        let path = path.clone();
                        self.current = None;
                        return Some(Err(StoreError::Read { path, source: e }));
                    }
                    None => self.current = None,
                }
            }
            let path = self.files.next()?;
            match open(&path, self.window, &self.columns, self.batch_size) {
                Ok(Some(reader)) => self.current = Some((path, reader)),
                // Expired since it was listed: its flows are gone for good.
                // Merged into another file since: they are elsewhere, and
                // skipping them would miss them.
                Ok(None) => {
                    if layout::was_merged(&path) {
                        return Some(Err(StoreError::Changed { path }));
                    }
                }
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// Every flow of one file, with every column of the flow schema (columns
/// the file lacks read as nulls); `None` when the file vanished.
pub(crate) fn read_whole(path: &Path) -> Result<Option<Vec<RecordBatch>>, StoreError> {
    let columns = &Column::ALL;
    let Some(reader) = open(path, None, columns, 64 * 1024)? else {
        return Ok(None);
    };
    let schema = flow_schema();
    let mut out = Vec::new();
    for b in reader {
        let b = b.map_err(|source| StoreError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        out.push(arrange(&b, columns, &schema, path)?);
    }
    Ok(Some(out))
}

/// A reader of the flows of one file in the window, or `None` when the file
/// vanished (expired) since it was listed.
fn open(
    path: &Path,
    window: Option<TimeWindow>,
    columns: &[Column],
    batch_size: usize,
) -> Result<Option<ParquetRecordBatchReader>, StoreError> {
    // Merged into another file since it was listed: until its grace
    // period ends it waits under a hidden name.
    let file = match File::open(path).or_else(|e| match layout::retired_path(path) {
        Some(r) if e.kind() == std::io::ErrorKind::NotFound => File::open(r).map_err(|_| e),
        _ => Err(e),
    }) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("open", path, e)),
    };
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| StoreError::parquet(path, e))?;
    let schema = builder.schema().clone();
    let index = |name: &str| {
        schema.index_of(name).map_err(|_| {
            StoreError::schema(path.display().to_string(), format!("no column {name}"))
        })
    };
    // Columns added to the schema later (the countries) are absent from
    // older files: read as nulls (see `arrange`).
    let mut wanted = columns
        .iter()
        .filter(|c| !(c.nullable() && schema.index_of(c.name()).is_err()))
        .map(|c| index(c.name()))
        .collect::<Result<Vec<_>, _>>()?;
    wanted.sort_unstable();
    wanted.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let mut builder = builder.with_projection(mask).with_batch_size(batch_size);
    if let Some(w) = window {
        let ts = index(Column::TimeStart.name())?;
        // Row groups whose time_start range misses the window are not read.
        let groups: Vec<usize> = builder
            .metadata()
            .row_groups()
            .iter()
            .enumerate()
            .filter(|(_, rg)| match rg.column(ts).statistics() {
                Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                    (Some(&lo), Some(&hi)) => w.overlaps(lo, hi),
                    _ => true,
                },
                _ => true,
            })
            .map(|(i, _)| i)
            .collect();
        let te = index(Column::TimeEnd.name())?;
        // nfdump's rule: the whole flow in the window.
        let mask = ProjectionMask::roots(builder.parquet_schema(), [ts, te]);
        let predicate = ArrowPredicateFn::new(mask, move |b: RecordBatch| {
            let times = |i: usize| {
                let col = b.column(i);
                col.as_any()
                    .downcast_ref::<TimestampMillisecondArray>()
                    .ok_or_else(|| {
                        ArrowError::SchemaError(format!("flow time is {}", col.data_type()))
                    })
            };
            // The projection keeps file order: time_start, then time_end.
            let (first, last) = (times(0)?, times(1)?);
            Ok(first
                .values()
                .iter()
                .zip(last.values().iter())
                .map(|(&f, &l)| Some(w.holds(f, l)))
                .collect::<BooleanArray>())
        });
        builder = builder
            .with_row_groups(groups)
            .with_row_filter(RowFilter::new(vec![Box::new(predicate)]));
    }
    builder
        .build()
        .map(Some)
        .map_err(|e| StoreError::parquet(path, e))
}

/// The requested columns, in the requested order, with the flow schema's types.
fn arrange(
    b: &RecordBatch,
    columns: &[Column],
    schema: &SchemaRef,
    path: &Path,
) -> Result<RecordBatch, StoreError> {
    let arrays = columns
        .iter()
        .map(|c| {
            if c.nullable() && b.column_by_name(c.name()).is_none() {
                return Ok(arrow_array::new_null_array(&c.data_type(), b.num_rows()));
            }
            b.column_by_name(c.name()).cloned().ok_or_else(|| {
                StoreError::schema(
                    path.display().to_string(),
                    format!("no column {}", c.name()),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let options = RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
    RecordBatch::try_new_with_options(schema.clone(), arrays, &options)
        .map_err(|e| StoreError::schema(path.display().to_string(), e.to_string()))
}
