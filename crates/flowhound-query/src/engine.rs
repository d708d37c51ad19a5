//! The query engine: DataFusion over the Parquet files of a time window,
//! registered as the table `flows`.

use std::sync::Arc;

use futures::StreamExt;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int64Type, TimestampMillisecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use datafusion::common::{DataFusionError, ScalarValue};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::MemTable;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::functions_aggregate::expr_fn::{count, count_distinct, max, min, sum};
use datafusion::logical_expr::{cast, col, lit, when, Expr as DfExpr, SortExpr};
use datafusion::prelude::{DataFrame, SQLOptions, SessionConfig, SessionContext};
use flowhound_filter::{AddrSet, Direction, Expr as FilterExpr, Filter};
use flowhound_model::{flow_schema, Addr, Enricher, FlowRecord, COUNTRY_NONE};
use flowhound_store::{records_from_batch, FlowStore, TimeWindow};

use crate::compile::compile;
use crate::error::QueryError;
use crate::localfs::InPlaceFiles;
use crate::stat::{AggRow, Aggregate, Key, NetLen, Order, Totals, Value};
use crate::table::Table;
use crate::udf::{FlowCounter, IpMask, IpParse, IpStr, RegistryFn};

/// The table of all stored files, before the window.
const FILES_TABLE: &str = "flows_files";

/// Questions over the flows of one window, answered by DataFusion.
///
/// The `flows` table holds exactly the flows that lie in the window, start
/// and end, as nfdump's `-t` selects them: hour partitions outside it are
/// never listed, and the window is a predicate on `time_start` and
/// `time_end` so row groups outside it are skipped by their statistics.
pub struct QueryEngine {
    ctx: SessionContext,
    rt: tokio::runtime::Runtime,
    enricher: Option<Arc<dyn Enricher>>,
}

impl std::fmt::Debug for QueryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryEngine").finish_non_exhaustive()
    }
}

fn ts_lit(ms: i64) -> DfExpr {
    lit(ScalarValue::TimestampMillisecond(
        Some(ms),
        Some("UTC".into()),
    ))
}

/// The flows of `df` in `w`, by nfdump's rule for `-t`: the whole flow in
/// the window.
fn within(df: DataFrame, w: TimeWindow) -> Result<DataFrame, QueryError> {
    let mut df = df.filter(col("time_start").gt_eq(ts_lit(w.start_ms)))?;
    if w.end_ms != i64::MAX {
        df = df.filter(
            col("time_start")
                .lt(ts_lit(w.end_ms))
                .and(col("time_end").lt(ts_lit(w.end_ms))),
        )?;
    }
    Ok(df)
}

impl QueryEngine {
    /// The flows of `window` (all when `None`) in `store`.
    ///
    /// With an `enricher` (the registries of `--config`), flows stored
    /// without countries (no registry at ingest, or files from before the
    /// country columns) get them now, and their missing AS numbers too; the
    /// SQL functions `country(ip)`, `asn(ip)` and `as_org(asn)` exist.
    pub fn open(
        store: &dyn FlowStore,
        window: Option<TimeWindow>,
        enricher: Option<Arc<dyn Enricher>>,
    ) -> Result<Self, QueryError> {
        let files = store.files(window)?;
        let (ctx, rt) = session()?;
        let schema = flow_schema();
        if files.is_empty() {
            let empty = MemTable::try_new(schema, vec![vec![]])?;
            ctx.register_table(FILES_TABLE, Arc::new(empty))?;
        } else {
            let urls = files
                .iter()
                .map(|p| {
                    let p = std::path::absolute(p).unwrap_or_else(|_| p.clone());
                    ListingTableUrl::parse(p.to_string_lossy())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet");
            let config = ListingTableConfig::new_with_multi_paths(urls)
                .with_listing_options(options)
                .with_schema(schema);
            ctx.register_table(FILES_TABLE, Arc::new(ListingTable::try_new(config)?))?;
        }
        let engine = QueryEngine { ctx, rt, enricher };
        let mut flows = engine.rt.block_on(engine.ctx.table(FILES_TABLE))?;
        if let Some(w) = window {
            flows = within(flows, w)?;
        }
        if let Some(e) = &engine.enricher {
            register_registry(&engine.ctx, e);
            flows = flows.select(enriched_columns(e))?;
        }
        engine.ctx.register_table("flows", flows.into_view())?;
        Ok(engine)
    }

    /// Flows per value of `key` (one-sided keys), nothing else counted: the
    /// cheapest grouping, reading only the key's columns and the filter's.
    pub fn count_by(&self, filter: &Filter, key: Key) -> Result<Vec<(Value, u64)>, QueryError> {
        if key.two_sided().is_some() {
            return Err(QueryError::User(format!(
                "{} counts both sides of a flow",
                key.name()
            )));
        }
        let exprs = key_exprs(&key)?;
        let n = exprs.len();
        let group: Vec<DfExpr> = exprs
            .into_iter()
            .enumerate()
            .map(|(j, e)| e.alias(format!("k{j}")))
            .collect();
        let df = self
            .flows(filter)?
            .aggregate(group, vec![count(lit(1)).alias("flows")])?;
        let mut out = Vec::new();
        for b in self.collect(df)? {
            for r in 0..b.num_rows() {
                out.push((decode_key(&key, &b, 0, r), uint(b.column(n), r)));
            }
        }
        Ok(out)
    }

    /// An engine over the flows `filter` selects, read once into memory:
    /// for many questions about a few flows (one host's story), each then
    /// costs no scan of the files.
    pub fn subset(&self, filter: &Filter) -> Result<QueryEngine, QueryError> {
        let df = self.flows(filter)?;
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = self.collect(df)?;
        self.in_memory(schema, batches)
    }

    /// [`QueryEngine::subset`] of the flows in `window` too (nfdump's rule:
    /// the whole flow in it), or `None` when they are more than `max_flows`
    /// (the scan stops there): for callers that can ask the files instead
    /// when the flows would take too much memory.
    pub fn subset_within(
        &self,
        filter: &Filter,
        window: Option<TimeWindow>,
        max_flows: usize,
    ) -> Result<Option<QueryEngine>, QueryError> {
        let mut df = self.flows(filter)?;
        if let Some(w) = window {
            df = within(df, w)?;
        }
        // (The engine takes a limit up to i64::MAX.)
        if max_flows < usize::MAX / 2 {
            df = df.limit(0, Some(max_flows + 1))?;
        }
        let schema = Arc::new(df.schema().as_arrow().clone());
        let batches = self.collect(df)?;
        if batches.iter().map(RecordBatch::num_rows).sum::<usize>() > max_flows {
            return Ok(None);
        }
        self.in_memory(schema, batches).map(Some)
    }

    /// An engine over `batches`, with this one's registries.
    fn in_memory(
        &self,
        schema: arrow_schema::SchemaRef,
        batches: Vec<RecordBatch>,
    ) -> Result<QueryEngine, QueryError> {
        let (ctx, rt) = session()?;
        if let Some(e) = &self.enricher {
            register_registry(&ctx, e);
        }
        ctx.register_table("flows", Arc::new(MemTable::try_new(schema, vec![batches])?))?;
        Ok(QueryEngine {
            ctx,
            rt,
            enricher: self.enricher.clone(),
        })
    }

    /// The organisation behind an AS number, when a registry is configured.
    pub fn as_org(&self, asn: u32) -> Option<String> {
        self.enricher.as_ref()?.as_org(asn).map(str::to_owned)
    }

    /// Whether a registry answers for flows stored without one.
    pub fn has_registry(&self) -> bool {
        self.enricher.is_some()
    }

    /// Whether the window's flows can answer a `geo` filter: a registry
    /// looks countries up, or some flow was stored with one. `false` only
    /// when there are flows and none has a country (stored without a
    /// registry): such a filter would silently match nothing.
    pub fn can_tell_countries(&self) -> Result<bool, QueryError> {
        if self.has_country_registry() {
            return Ok(true);
        }
        let any = |df: DataFrame| -> Result<bool, QueryError> {
            let batches = self.collect(df.limit(0, Some(1))?)?;
            Ok(batches.iter().any(|b| b.num_rows() > 0))
        };
        let flows = self.rt.block_on(self.ctx.table("flows"))?;
        // Row groups whose countries are all null are skipped by their
        // null counts: this reads little.
        let with_country = flows.clone().filter(
            col("src_country")
                .is_not_null()
                .or(col("dst_country").is_not_null()),
        )?;
        Ok(any(with_country.select_columns(&["src_country"])?)?
            || !any(flows.select_columns(&["proto"])?)?)
    }

    /// Whether a registry that knows countries is configured (one with AS
    /// files only tells none).
    pub fn has_country_registry(&self) -> bool {
        self.enricher.as_ref().is_some_and(|e| e.has_countries())
    }

    pub(crate) fn flows(&self, filter: &Filter) -> Result<DataFrame, QueryError> {
        let df = self.rt.block_on(self.ctx.table("flows"))?;
        if let Some((src, dst)) = split_host(&filter.expr) {
            // Two scans, each with a one-column address test that the page
            // index and the Bloom filters can prune with; `src OR dst` in
            // one scan can only be pruned where both columns allow it.
            return Ok(df
                .clone()
                .filter(compile(&src))?
                .union(df.filter(compile(&dst))?)?);
        }
        Ok(match &filter.expr {
            flowhound_filter::Expr::Any => df,
            e => df.filter(compile(e))?,
        })
    }

    pub(crate) fn collect(&self, df: DataFrame) -> Result<Vec<RecordBatch>, QueryError> {
        Ok(self.rt.block_on(df.collect())?)
    }

    /// Run a SQL statement over `flows`. Errors in the statement (syntax,
    /// unknown columns, bad types) are the user's: [`QueryError::User`].
    pub fn sql(&self, query: &str) -> Result<Table, QueryError> {
        let run = async {
            // Read-only: no tables created, no files written.
            let options = SQLOptions::new()
                .with_allow_ddl(false)
                .with_allow_dml(false)
                .with_allow_statements(false);
            let df = self.ctx.sql_with_options(query, options).await?;
            df.collect().await
        };
        let batches = self.rt.block_on(run).map_err(QueryError::from_sql)?;
        Table::from_batches(&batches)
    }

    /// The flows the filter selects, in flow-time order, or by `order`
    /// (largest first, ties by time), at most `limit` of them.
    pub fn records(
        &self,
        filter: &Filter,
        order: Option<Order>,
        limit: Option<usize>,
    ) -> Result<Vec<FlowRecord>, QueryError> {
        let mut out = Vec::new();
        self.each_record(filter, order, limit, |flows| {
            out.extend_from_slice(flows);
            Ok::<(), QueryError>(())
        })?;
        Ok(out)
    }

    /// [`QueryEngine::records`], handed to `each` a batch at a time as the
    /// engine produces them: a listing of millions of flows is written as
    /// it goes, not gathered first. An error from `each` (a closed pipe)
    /// ends the query.
    pub fn each_record<E>(
        &self,
        filter: &Filter,
        order: Option<Order>,
        limit: Option<usize>,
        mut each: impl FnMut(&[FlowRecord]) -> Result<(), E>,
    ) -> Result<(), E>
    where
        E: From<QueryError>,
    {
        let mut df = self.flows(filter).map_err(E::from)?;
        let mut sort = Vec::new();
        if let Some(o) = order {
            sort.push(flow_order(o).sort(false, false));
        }
        // Flows starting in the same millisecond come in one order every
        // time: the rest of the flow's key decides.
        for c in [
            "time_start",
            "time_end",
            "src_ip",
            "dst_ip",
            "src_port",
            "dst_port",
            "proto",
            "exporter",
            "packets",
            "bytes",
        ] {
            sort.push(col(c).sort(true, false));
        }
        df = df
            .sort(sort)
            .and_then(|d| d.limit(0, limit))
            .map_err(|e| E::from(e.into()))?;
        let mut stream = self
            .rt
            .block_on(df.execute_stream())
            .map_err(|e| E::from(e.into()))?;
        while let Some(b) = self.rt.block_on(stream.next()) {
            let b = b.map_err(|e| E::from(e.into()))?;
            let flows = records_from_batch(&b).map_err(|e| E::from(e.into()))?;
            each(&flows)?;
        }
        Ok(())
    }

    /// Flows, packets and bytes the filter selects, with the first and last times.
    pub fn totals(&self, filter: &Filter) -> Result<Totals, QueryError> {
        let df = self.flows(filter)?.aggregate(
            vec![],
            vec![
                count(lit(1)).alias("flows"),
                sum(col("packets")).alias("packets"),
                sum(col("bytes")).alias("bytes"),
                min(col("time_start")).alias("first"),
                max(col("time_end")).alias("last"),
            ],
        )?;
        let batches = self.collect(df)?;
        let mut t = Totals::default();
        if let Some(b) = batches.iter().find(|b| b.num_rows() > 0) {
            t.flows = uint(b.column(0), 0);
            t.packets = uint(b.column(1), 0);
            t.bytes = uint(b.column(2), 0);
            t.first_ms = time(b.column(3), 0);
            t.last_ms = time(b.column(4), 0);
        }
        Ok(t)
    }

    /// Group the selected flows by `a.keys` and count flows, packets, bytes,
    /// first and last time, and distinct values of `a.distinct` per group.
    ///
    /// Ordered by `a.order`, largest first, ties by the keys ascending (the
    /// statistic's rule); without an order, by the keys ascending.
    pub fn aggregate(&self, filter: &Filter, a: &Aggregate) -> Result<Vec<AggRow>, QueryError> {
        Ok(self.aggregate_inner(filter, a, false, false)?.0)
    }

    /// [`QueryEngine::aggregate`] over requests only (client to service:
    /// the destination port is the lower one, or there is no source port,
    /// as the store's connection layout tells them apart): the ports a host
    /// offers are those requests arrive on, not the ephemeral ports the
    /// replies to its own connections come back to.
    pub fn aggregate_requests(
        &self,
        filter: &Filter,
        a: &Aggregate,
    ) -> Result<Vec<AggRow>, QueryError> {
        Ok(self.aggregate_inner(filter, a, false, true)?.0)
    }

    /// [`QueryEngine::aggregate`], with the totals of the selection from the
    /// same scan: what `-s` prints under its table. Only for keys that put
    /// each flow in one group (not `ip`, `port`, `as`, `if`); for those the
    /// totals are a second query.
    pub fn aggregate_with_totals(
        &self,
        filter: &Filter,
        a: &Aggregate,
    ) -> Result<(Vec<AggRow>, Totals), QueryError> {
        if a.keys.iter().any(|k| k.two_sided().is_some()) {
            let rows = self.aggregate(filter, a)?;
            return Ok((rows, self.totals(filter)?));
        }
        let (rows, totals) = self.aggregate_inner(filter, a, true, false)?;
        Ok((rows, totals.unwrap_or_default()))
    }

    fn aggregate_inner(
        &self,
        filter: &Filter,
        a: &Aggregate,
        with_totals: bool,
        requests_only: bool,
    ) -> Result<(Vec<AggRow>, Option<Totals>), QueryError> {
        if a.keys.is_empty() {
            return Err(QueryError::User("nothing to aggregate by".into()));
        }
        let two_sided = a.keys.iter().filter(|k| k.two_sided().is_some()).count();
        if two_sided > 0 && a.keys.len() > 1 {
            return Err(QueryError::User(
                "ip, port, as and if count both sides of a flow: use them alone".into(),
            ));
        }
        let mut base = self.flows(filter)?;
        if requests_only {
            base = base.filter(
                col("src_port")
                    .eq(lit(0u16))
                    .or(col("dst_port").lt_eq(col("src_port"))),
            )?;
        }
        let counted = [
            col("packets"),
            col("bytes"),
            col("time_start"),
            col("time_end"),
        ];
        let distinct: Vec<DfExpr> = a
            .distinct
            .iter()
            .enumerate()
            .map(|(i, k)| key_exprs(k).map(|e| e[0].clone().alias(format!("d{i}"))))
            .collect::<Result<_, _>>()?;
        let mut names = Vec::new();
        let input = if let Some((src, dst)) = a.keys[0].two_sided() {
            let side = |k: Key| -> Result<DataFrame, QueryError> {
                let mut sel: Vec<DfExpr> = key_exprs(&k)?
                    .into_iter()
                    .enumerate()
                    .map(|(j, e)| e.alias(format!("k0_{j}")))
                    .collect();
                sel.extend(counted.iter().cloned());
                sel.extend(distinct.iter().cloned());
                Ok(base.clone().select(sel)?)
            };
            names.push(vec!["k0_0".to_string()]);
            side(src)?.union(side(dst)?)?
        } else {
            let mut sel = Vec::new();
            for (i, k) in a.keys.iter().enumerate() {
                let mut n = Vec::new();
                for (j, e) in key_exprs(k)?.into_iter().enumerate() {
                    let name = format!("k{i}_{j}");
                    sel.push(e.alias(&name));
                    n.push(name);
                }
                names.push(n);
            }
            sel.extend(counted.iter().cloned());
            sel.extend(distinct.iter().cloned());
            base.select(sel)?
        };
        let group: Vec<DfExpr> = names.iter().flatten().map(col).collect();
        let mut aggs = vec![
            count(lit(1)).alias("flows"),
            sum(col("packets")).alias("packets"),
            sum(col("bytes")).alias("bytes"),
            min(col("time_start")).alias("first"),
            max(col("time_end")).alias("last"),
        ];
        for i in 0..a.distinct.len() {
            aggs.push(count_distinct(col(format!("d{i}"))).alias(format!("n{i}")));
        }
        let mut df = input.aggregate(group.clone(), aggs)?;
        let mut totals = None;
        if with_totals {
            // The groups once, in memory: the totals and the top rows both
            // come from them, not from a second scan of the files.
            df = self.rt.block_on(df.cache())?;
            let sums = df.clone().aggregate(
                vec![],
                vec![
                    sum(col("flows")).alias("flows"),
                    sum(col("packets")).alias("packets"),
                    sum(col("bytes")).alias("bytes"),
                    min(col("first")).alias("first"),
                    max(col("last")).alias("last"),
                ],
            )?;
            let mut t = Totals::default();
            if let Some(b) = self.collect(sums)?.iter().find(|b| b.num_rows() > 0) {
                t.flows = uint(b.column(0), 0);
                t.packets = uint(b.column(1), 0);
                t.bytes = uint(b.column(2), 0);
                t.first_ms = time(b.column(3), 0);
                t.last_ms = time(b.column(4), 0);
            }
            totals = Some(t);
        }
        let mut sort: Vec<SortExpr> = Vec::new();
        if let Some(o) = a.order {
            sort.push(group_order(o).sort(false, false));
        }
        sort.extend(group.iter().map(|g| g.clone().sort(true, false)));
        df = df.sort(sort)?.limit(0, a.limit)?;
        let mut out = Vec::new();
        for b in self.collect(df)? {
            for r in 0..b.num_rows() {
                let mut keys = Vec::with_capacity(a.keys.len());
                let mut c = 0;
                for (k, n) in a.keys.iter().zip(&names) {
                    let v = decode_key(k, &b, c, r);
                    c += n.len();
                    keys.push(v);
                }
                let flows = uint(b.column(c), r);
                out.push(AggRow {
                    keys,
                    flows,
                    packets: uint(b.column(c + 1), r),
                    bytes: uint(b.column(c + 2), r),
                    first_ms: time(b.column(c + 3), r),
                    last_ms: time(b.column(c + 4), r),
                    distinct: (0..a.distinct.len())
                        .map(|i| uint(b.column(c + 5 + i), r))
                        .collect(),
                });
            }
        }
        Ok((out, totals))
    }
}

/// The stored columns, with the registry's answers where a flow was stored
/// without them: a null country was never looked up, and then neither was a
/// missing AS number. Flows enriched at ingest keep what was known then.
fn enriched_columns(e: &Arc<dyn Enricher>) -> Vec<DfExpr> {
    let country = RegistryFn::country(e.clone());
    let asn = RegistryFn::asn(e.clone());
    let fill_country = |c: &str, ip: &str| {
        when(col(c).is_null(), country.call(vec![col(ip)]))
            .otherwise(col(c))
            .unwrap_or_else(|_| col(c))
    };
    let fill_as = |a: &str, c: &str, ip: &str| {
        when(
            col(c).is_null().and(col(a).eq(lit(0u32))),
            asn.call(vec![col(ip)]),
        )
        .otherwise(col(a))
        .unwrap_or_else(|_| col(a))
    };
    flow_schema()
        .fields()
        .iter()
        .map(|f| {
            let name = f.name().as_str();
            let e = match name {
                "src_country" => fill_country(name, "src_ip"),
                "dst_country" => fill_country(name, "dst_ip"),
                "src_as" => fill_as(name, "src_country", "src_ip"),
                "dst_as" => fill_as(name, "dst_country", "dst_ip"),
                _ => return col(name),
            };
            e.alias(name)
        })
        .collect()
}

/// A DataFusion session with flowhound's settings and functions, and the
/// runtime it runs on.
fn session() -> Result<(SessionContext, tokio::runtime::Runtime), QueryError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .thread_name("flowhound-query")
        .build()
        .map_err(|e| QueryError::Engine(format!("cannot start the query runtime: {e}")))?;
    let mut config = SessionConfig::new().with_information_schema(true);
    // Late materialisation: selective filters read the other columns of
    // matching rows only.
    config.options_mut().execution.parquet.pushdown_filters = true;
    config.options_mut().execution.parquet.reorder_filters = true;
    // A cap on what sorts and groupings hold, so that listing a month
    // spills to disk instead of taking the machine's memory.
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(memory_limit())))
        .build_arc()?;
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    let local = ObjectStoreUrl::local_filesystem();
    ctx.register_object_store(local.as_ref(), Arc::new(InPlaceFiles::default()));
    for f in [IpStr::udf(), IpParse::udf(), IpMask::udf()] {
        ctx.register_udf(f);
    }
    Ok((ctx, rt))
}

/// `country(ip)`, `asn(ip)`, `as_org(asn)` for SQL users.
fn register_registry(ctx: &SessionContext, e: &Arc<dyn Enricher>) {
    for f in [
        RegistryFn::country(e.clone()),
        RegistryFn::asn(e.clone()),
        RegistryFn::as_org(e.clone()),
    ] {
        ctx.register_udf(f);
    }
}

/// `host X` (alone, or and-ed with other conditions) as two filters that
/// select disjoint flows: `src X and …`, and `dst X and not src X and …`.
/// `host X or host Y` is `ip in [X Y]`, and splits the same way.
fn split_host(e: &FilterExpr) -> Option<(FilterExpr, FilterExpr)> {
    fn addrs(e: &FilterExpr) -> Option<Vec<(Addr, Addr)>> {
        match e {
            FilterExpr::Addr {
                dir: Direction::Either,
                set,
            } => Some(set.ranges().to_vec()),
            FilterExpr::Or(parts) => {
                let mut all = Vec::new();
                for p in parts {
                    all.extend(addrs(p)?);
                }
                Some(all)
            }
            _ => None,
        }
    }
    let either = |e: &FilterExpr| {
        let set = AddrSet::from_ranges(addrs(e)?);
        (set.ranges().len() <= 16).then_some(set)
    };
    let (set, rest): (AddrSet, Vec<FilterExpr>) = match e {
        FilterExpr::And(parts) => {
            let i = parts.iter().position(|p| either(p).is_some())?;
            let set = either(&parts[i])?;
            let rest = parts
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, p)| p.clone())
                .collect();
            (set, rest)
        }
        e => (either(e)?, Vec::new()),
    };
    let side = |dir| FilterExpr::Addr {
        dir,
        set: set.clone(),
    };
    let mut src = vec![side(Direction::Src)];
    src.extend(rest.iter().cloned());
    let mut dst = vec![
        side(Direction::Dst),
        FilterExpr::Not(Box::new(side(Direction::Src))),
    ];
    dst.extend(rest);
    Some((FilterExpr::And(src), FilterExpr::And(dst)))
}

/// A per-flow order value for listings.
fn flow_order(o: Order) -> DfExpr {
    let args = || {
        vec![
            col("packets"),
            col("bytes"),
            col("time_start"),
            col("time_end"),
        ]
    };
    let f = |field| {
        FlowCounter::udf(field)
            .map(|u| u.call(args()))
            .unwrap_or_else(|| lit(0u64))
    };
    use flowhound_filter::CounterField as C;
    match o {
        Order::Flows => lit(1u64),
        Order::Packets => col("packets"),
        Order::Bytes => col("bytes"),
        Order::Pps => f(C::Pps),
        Order::Bps => f(C::Bps),
        Order::Bpp => f(C::Bpp),
    }
}

/// The order value of an aggregated group, as nfdump computes it: rates
/// over the group's span from first to last (0 when the span is 0).
fn group_order(o: Order) -> DfExpr {
    let span = cast(col("last"), DataType::Int64) - cast(col("first"), DataType::Int64);
    let f64 = |e: DfExpr| cast(e, DataType::Float64);
    let rate = |count: &str, scale: f64| {
        when(span.clone().lt_eq(lit(0i64)), lit(0f64))
            .otherwise(f64(col(count)) * lit(scale) / f64(span.clone()))
            .unwrap_or_else(|_| lit(0f64))
    };
    match o {
        Order::Flows => col("flows"),
        Order::Packets => col("packets"),
        Order::Bytes => col("bytes"),
        Order::Pps => rate("packets", 1000.0),
        Order::Bps => rate("bytes", 8000.0),
        Order::Bpp => when(col("packets").eq(lit(0u64)), lit(0f64))
            .otherwise(f64(col("bytes")) / f64(col("packets")))
            .unwrap_or_else(|_| lit(0f64)),
    }
}

/// The expressions a key groups by: one, or two for a network (the masked
/// address and the prefix length).
fn key_exprs(k: &Key) -> Result<Vec<DfExpr>, QueryError> {
    let net = |addr: &str, mask: &str, len: NetLen| {
        let (l4, l6) = match len {
            NetLen::Exported => (col(mask), col(mask)),
            NetLen::Fixed { v4, v6 } => (lit(v4), lit(v6)),
        };
        vec![
            IpMask::udf().call(vec![col(addr), l4.clone(), l6.clone()]),
            l4,
            l6,
        ]
    };
    Ok(match k {
        Key::SrcIp => vec![col("src_ip")],
        Key::DstIp => vec![col("dst_ip")],
        Key::SrcPort => vec![col("src_port")],
        Key::DstPort => vec![col("dst_port")],
        Key::Proto => vec![col("proto")],
        Key::SrcAs => vec![col("src_as")],
        Key::DstAs => vec![col("dst_as")],
        Key::InIf => vec![col("in_if")],
        Key::OutIf => vec![col("out_if")],
        Key::Router => vec![col("exporter")],
        Key::NextHop => vec![col("next_hop")],
        Key::Tos => vec![col("tos")],
        Key::Flags => vec![col("tcp_flags")],
        Key::SrcNet(len) => net("src_ip", "src_mask", *len),
        Key::DstNet(len) => net("dst_ip", "dst_mask", *len),
        Key::TimeBin(ms) => {
            let ms = (*ms).max(1);
            let t = cast(col("time_start"), DataType::Int64);
            vec![(t / lit(ms)) * lit(ms)]
        }
        Key::Ip | Key::Port | Key::As | Key::If => {
            return Err(QueryError::User(format!(
                "{} counts both sides of a flow and cannot be a distinct count",
                k.name()
            )))
        }
        Key::SrcGeo => vec![col("src_country")],
        Key::DstGeo => vec![col("dst_country")],
    })
}

fn decode_key(k: &Key, b: &RecordBatch, c: usize, r: usize) -> Value {
    let a = b.column(c);
    match k {
        Key::SrcNet(_) | Key::DstNet(_) => {
            let addr = addr(a, r);
            let v4 = flowhound_model::addr_to_ip(addr).is_ipv4();
            let len = uint(b.column(if v4 { c + 1 } else { c + 2 }), r) as u8;
            Value::Net(addr, if v4 { len.min(32) } else { len.min(128) })
        }
        Key::TimeBin(_) => Value::Time(a.as_primitive::<Int64Type>().value(r)),
        Key::SrcGeo | Key::DstGeo => Value::Country(country(a, r)),
        _ => match a.data_type() {
            DataType::FixedSizeBinary(16) => Value::Addr(addr(a, r)),
            _ => Value::Uint(uint(a, r)),
        },
    }
}

pub(crate) fn addr(a: &ArrayRef, r: usize) -> Addr {
    let mut bytes = [0u8; 16];
    if let Some(f) = a.as_fixed_size_binary_opt() {
        if f.is_valid(r) && f.value_length() == 16 {
            bytes.copy_from_slice(f.value(r));
        }
    }
    u128::from_be_bytes(bytes)
}

fn country(a: &ArrayRef, r: usize) -> [u8; 2] {
    let text = match a.data_type() {
        DataType::Utf8 if a.is_valid(r) => a.as_string::<i32>().value(r),
        DataType::Utf8View if a.is_valid(r) => a.as_string_view().value(r),
        _ => return COUNTRY_NONE,
    };
    match text.as_bytes() {
        [x, y] => [*x, *y],
        _ => COUNTRY_NONE,
    }
}

/// An unsigned count or key of any integer type (0 when null).
pub(crate) fn uint(a: &ArrayRef, r: usize) -> u64 {
    if a.is_null(r) {
        return 0;
    }
    match a.data_type() {
        DataType::UInt8 => a.as_primitive::<UInt8Type>().value(r) as u64,
        DataType::UInt16 => a.as_primitive::<UInt16Type>().value(r) as u64,
        DataType::UInt32 => a.as_primitive::<UInt32Type>().value(r) as u64,
        DataType::UInt64 => a.as_primitive::<UInt64Type>().value(r),
        DataType::Int64 => a.as_primitive::<Int64Type>().value(r).max(0) as u64,
        _ => 0,
    }
}

fn time(a: &ArrayRef, r: usize) -> i64 {
    match a.as_primitive_opt::<TimestampMillisecondType>() {
        Some(t) if t.is_valid(r) => t.value(r),
        _ => 0,
    }
}

/// What a query may hold in memory: `FLOWHOUND_QUERY_MEMORY` (e.g. `8G`,
/// `512M`), else half the machine's memory (4 GiB when unknown). Sorts
/// beyond it spill to temporary files.
pub(crate) fn memory_limit() -> usize {
    if let Some(n) = std::env::var("FLOWHOUND_QUERY_MEMORY")
        .ok()
        .and_then(|v| parse_bytes(&v))
    {
        return n;
    }
    let total_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
    });
    total_kib.map_or(4 << 30, |k| k.saturating_mul(1024) / 2)
}

/// `512M`, `8G`, `1048576`.
fn parse_bytes(text: &str) -> Option<usize> {
    let t = text.trim();
    let (num, mult) = match t.chars().last()?.to_ascii_uppercase() {
        'K' => (&t[..t.len() - 1], 1usize << 10),
        'M' => (&t[..t.len() - 1], 1 << 20),
        'G' => (&t[..t.len() - 1], 1 << 30),
        'T' => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    num.trim().parse::<usize>().ok()?.checked_mul(mult)
}

impl From<DataFusionError> for QueryError {
    fn from(e: DataFusionError) -> Self {
        if let DataFusionError::ObjectStore(os) = e.find_root() {
            if matches!(**os, datafusion::object_store::Error::NotFound { .. }) {
                return QueryError::Engine(format!(
                    "a file went while the query read it (merged into another, or expired): \
                     run it again ({e})"
                ));
            }
        }
        if let DataFusionError::ResourcesExhausted(_) = e.find_root() {
            return QueryError::User(format!(
                "the query needs more memory than it may use ({} MiB; FLOWHOUND_QUERY_MEMORY \
                 sets it): narrow it with -t or a filter, or give it more ({e})",
                memory_limit() >> 20
            ));
        }
        QueryError::Engine(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> Option<(String, String)> {
        let f = flowhound_filter::parse(text).expect("valid filter");
        split_host(&f.expr).map(|(a, b)| (a.to_string(), b.to_string()))
    }

    /// The address filters that prune (two scans) and those that cannot.
    #[test]
    fn which_filters_split_into_two_pruned_scans() {
        for text in [
            "host 10.0.0.1",
            "host 10.0.0.1 or host 10.0.0.2",
            "ip 10.0.0.1 or net 192.0.2.0/24",
            "proto tcp and (host 10.0.0.1 or host 2001:db8::1)",
            "ip in [10.0.0.1 10.0.0.9]",
        ] {
            let (src, dst) = split(text).unwrap_or_else(|| panic!("{text} is not split"));
            assert!(src.contains("src"), "{text}: {src}");
            assert!(dst.contains("not"), "{text}: {dst}");
        }
        for text in [
            "src ip 10.0.0.1",
            "not host 10.0.0.1",
            "host 10.0.0.1 or port 25",
            "(host 10.0.0.1 and port 25) or host 10.0.0.2",
        ] {
            assert_eq!(split(text), None, "{text}");
        }
        // More than 16 ranges: one scan with the list.
        let many: Vec<String> = (0..17).map(|i| format!("host 10.0.{i}.1")).collect();
        assert_eq!(split(&many.join(" or ")), None);
    }
}
