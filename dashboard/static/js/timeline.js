// The timeline: one metric over the range, by hour for a single day and by
// day otherwise, drawn with uPlot on a canvas (values never become markup).
// Buckets without data are drawn as zero.

import { useEffect, useRef } from '../vendor/hooks.js';
import uPlot from '../vendor/uplot.js';
import { query } from './api.js';
import { METRICS, metricValue } from './format.js';
import { baseQuery, rowsOf } from './query.js';
import { Card, html, panelState, useLoad } from './ui.js';

const ALL = METRICS.map((m) => m.key);

export function Timeline({ ctx, metric, onMetric }) {
  const g = ctx.range.granularity;
  const st = useLoad(async (signal) => {
    const body = { ...baseQuery(ctx), metrics: ALL, dimensions: [`time:${g}`] };
    if (ctx.compare !== 'off') body.include = { compare: ctx.compare };
    const res = await query(body, signal);
    const rows = rowsOf(res, ALL);
    const byBucket = new Map(rows.map((r) => [r.value, r.metrics]));
    // The comparison period's bucket at the same position, when compared.
    const previous = ctx.compare !== 'off' ? new Map(rows.map((r) => [r.value, r.previous])) : null;
    // Every bucket of the range, those without data too.
    const buckets = (res.meta && Array.isArray(res.meta.time_labels) && res.meta.time_labels) || [...byBucket.keys()];
    return { buckets, byBucket, previous };
  }, [JSON.stringify([ctx.site, ctx.range.dateRange, ctx.filters, ctx.compare])]);

  const m = ALL.includes(metric) ? metric : 'visitors';
  const label = METRICS.find((x) => x.key === m).label;
  return html`<${Card} id="timeline" title=${label} wide state=${panelState(st)}
      actions=${html`<label class="sr-only" for="metric">Metric</label>
        <select id="metric" value=${m} onChange=${(e) => onMetric(e.currentTarget.value)}>
          ${METRICS.map((x) => html`<option value=${x.key}>${x.label}</option>`)}
        </select>`}>
    ${st.error ? html`<p class="msg error" role="alert">${st.error.message}</p>` : html`<${Chart} data=${st.data} metric=${m} granularity=${g} />`}
  </${Card}>`;
}

function Chart({ data, metric, granularity }) {
  const el = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    if (!data || !el.current) return undefined;
    const labels = data.buckets.map((b) => (granularity === 'hour' ? `${b.slice(11, 16)}` : shortDay(b)));
    const xs = data.buckets.map((_, i) => i);
    const ys = data.buckets.map((b) => (data.byBucket.get(b) || {})[metric] ?? 0);
    const prev = data.previous && data.buckets.map((b) => (data.previous.get(b) || {})[metric] ?? 0);
    const css = getComputedStyle(el.current);
    const stroke = css.getPropertyValue('--accent').trim() || '#4f46e5';
    const grid = css.getPropertyValue('--grid').trim() || '#8883';
    const text = css.getPropertyValue('--muted').trim() || '#888';
    const width = Math.max(280, el.current.clientWidth);
    const opts = {
      width,
      height: 240,
      cursor: { drag: { x: false, y: false } },
      legend: { show: false },
      scales: { x: { time: false }, y: { range: (u, min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [
        {
          stroke: text,
          grid: { show: false },
          ticks: { stroke: grid },
          values: (u, splits) => splits.map((i) => labels[i] ?? ''),
          space: 60,
        },
        {
          stroke: text,
          grid: { stroke: grid },
          ticks: { show: false },
          size: 56,
          values: (u, splits) => splits.map((v) => metricValue(metric, v)),
        },
      ],
      series: [
        {},
        {
          label: metric,
          stroke,
          width: 2,
          fill: `${stroke}22`,
          points: { show: xs.length <= 31 },
          value: (u, v) => metricValue(metric, v),
        },
        ...(prev ? [{ label: 'previous', stroke: text, width: 1.5, dash: [4, 4], points: { show: false } }] : []),
      ],
      hooks: {
        setCursor: [(u) => {
          const i = u.cursor.idx;
          const tip = el.current && el.current.parentNode.querySelector('.chart-tip');
          if (!tip) return;
          tip.textContent = i == null ? '' : `${labels[i]}: ${metricValue(metric, ys[i])}${prev ? ` (before: ${metricValue(metric, prev[i])})` : ''}`;
        }],
      },
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, prev ? [xs, ys, prev] : [xs, ys], el.current);
    const ro = new ResizeObserver(() => {
      const w = Math.max(280, el.current ? el.current.clientWidth : width);
      if (plot.current && w !== plot.current.width) plot.current.setSize({ width: w, height: 240 });
    });
    ro.observe(el.current);
    return () => ro.disconnect();
  }, [data, metric, granularity]);
  useEffect(() => () => plot.current?.destroy(), []);
  return html`<div class="chart-wrap">
    <p class="chart-tip" aria-live="polite"></p>
    <div ref=${el} class="chart" aria-hidden="true"></div>
    ${data && html`<details class="chart-table">
      <summary>Show as table</summary>
      <table>
        <thead><tr><th scope="col">${granularity === 'hour' ? 'Hour' : 'Day'}</th><th scope="col" class="num">${metric}</th>
          ${data.previous && html`<th scope="col" class="num">previous period</th>`}</tr></thead>
        <tbody>
          ${data.buckets.map((b) => {
            const v = (data.byBucket.get(b) || {})[metric] ?? 0;
            const p = data.previous && ((data.previous.get(b) || {})[metric] ?? 0);
            return html`<tr data-bucket=${b}><td>${granularity === 'hour' ? b.slice(11, 16) : b}</td><td class="num" data-n=${v}>${metricValue(metric, v)}</td>
              ${data.previous && html`<td class="num">${metricValue(metric, p)}</td>`}</tr>`;
          })}
        </tbody>
      </table>
    </details>`}
  </div>`;
}

function shortDay(day) {
  const d = new Date(`${day}T00:00:00Z`);
  return d.toLocaleDateString('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'short' });
}
