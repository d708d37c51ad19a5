//! A filter compiled once and applied to record batches as they arrive:
//! for live detection over the collector's decoded flows, before any file
//! is written. The same compiled expression as a stored-flow query.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::RecordBatch;
use datafusion::arrow::compute::filter_record_batch;
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use flowhound_filter::{Expr, Filter};
use flowhound_model::flow_schema;

use crate::compile::compile;
use crate::error::QueryError;

/// A filter ready to select rows of batches in the flow schema.
#[derive(Debug, Clone)]
pub struct BatchFilter {
    /// `None`: the filter selects every flow.
    expr: Option<Arc<dyn PhysicalExpr>>,
}

impl BatchFilter {
    /// Compile `filter` for batches of [`flow_schema`].
    pub fn new(filter: &Filter) -> Result<Self, QueryError> {
        if filter.expr == Expr::Any {
            return Ok(BatchFilter { expr: None });
        }
        let schema = DFSchema::try_from(flow_schema().as_ref().clone())?;
        let expr = SessionContext::new().create_physical_expr(compile(&filter.expr), &schema)?;
        Ok(BatchFilter { expr: Some(expr) })
    }

    /// The rows of `batch` the filter selects.
    pub fn select(&self, batch: &RecordBatch) -> Result<RecordBatch, QueryError> {
        let Some(expr) = &self.expr else {
            return Ok(batch.clone());
        };
        let mask = expr.evaluate(batch)?.into_array(batch.num_rows())?;
        let mask = mask
            .as_boolean_opt()
            .ok_or_else(|| QueryError::Engine("a filter gave no truth values".into()))?;
        filter_record_batch(batch, mask).map_err(|e| QueryError::Engine(e.to_string()))
    }
}
