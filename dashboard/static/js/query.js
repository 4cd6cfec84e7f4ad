// Building Stats API v2 queries from the dashboard's context, and reading
// their answers into rows keyed by metric name.

import { query } from './api.js';

// ctx is what every panel draws from: {site, range, filters, compare}.
export function baseQuery(ctx) {
  const q = { site_id: ctx.site, date_range: ctx.range.dateRange };
  if (ctx.filters.length > 0) q.filters = ctx.filters;
  return q;
}

// breakdown queries the top values of one dimension.
export async function breakdown(ctx, dim, metrics, limit, signal, extra = {}) {
  const body = {
    ...baseQuery(ctx),
    metrics,
    dimensions: [dim],
    order_by: [[metrics[0], 'desc']],
    pagination: { limit },
    ...extra,
  };
  if (extra.filters) body.filters = [...(ctx.filters || []), ...extra.filters];
  return rowsOf(await query(body, signal), metrics);
}

// rowsOf turns an answer's results into {value, dims, metrics, previous}
// rows: value is the first dimension's, metrics and previous (the
// comparison's metrics, when asked for) are objects keyed by metric.
export function rowsOf(res, metrics) {
  const results = (res && Array.isArray(res.results)) ? res.results : [];
  return results.map((r) => {
    const dims = Array.isArray(r.dimensions) ? r.dimensions.map(String) : [];
    const row = { value: dims[0] ?? '', dims, metrics: byName(metrics, r.metrics), previous: null };
    if (r.comparison && Array.isArray(r.comparison.metrics)) row.previous = byName(metrics, r.comparison.metrics);
    return row;
  });
}

function byName(names, values) {
  const out = {};
  names.forEach((m, i) => {
    out[m] = Array.isArray(values) && typeof values[i] === 'number' ? values[i] : null;
  });
  return out;
}
