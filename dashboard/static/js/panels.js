// The dashboard's panels that read the query API: headline numbers, the
// ranked lists, custom events with their properties, and goals. Each loads
// its own data when the site, range or filters change.

import { useState } from '../vendor/hooks.js';
import { query, rawEvents } from './api.js';
import { change, countryName, METRICS, metricValue, referrerHref } from './format.js';
import { baseQuery, breakdown, rowsOf } from './query.js';
import { BarList, Card, html, Message, panelState, useLoad } from './ui.js';

const LIMIT = 10;
const MORE = 100;
const key = (ctx) => JSON.stringify([ctx.site, ctx.range.dateRange, ctx.filters, ctx.compare]);

// Headline shows each metric over the range with its change against the
// comparison period; choosing one charts it in the timeline.
export function Headline({ ctx, metric, onMetric }) {
  const metrics = METRICS.map((m) => m.key);
  const st = useLoad(async (signal) => {
    const body = { ...baseQuery(ctx), metrics };
    if (ctx.compare !== 'off') body.include = { compare: ctx.compare };
    return rowsOf(await query(body, signal), metrics)[0] || null;
  }, [key(ctx)]);
  const row = st.data;
  return html`<section class="headline" data-panel="headline" data-state=${panelState(st)} aria-label="Totals">
    ${st.error && html`<p class="msg error" role="alert">${st.error.message}</p>`}
    <ul>
      ${METRICS.map(({ key: m, label }) => {
        const v = row ? row.metrics[m] : null;
        const c = row && row.previous ? change(m, v, row.previous[m]) : null;
        return html`<li>
          <button type="button" class=${`stat${metric === m ? ' active' : ''}`} aria-pressed=${metric === m}
            data-metric=${m} onClick=${() => onMetric(m)} title=${`Chart ${label.toLowerCase()}`}>
            <span class="stat-label">${label}</span>
            <span class="stat-value" data-n=${v ?? ''}>${st.loading && !row ? '…' : metricValue(m, v)}</span>
            ${c && html`<span class=${`change ${c.dir === 0 ? 'flat' : c.good ? 'good' : 'bad'}`}
              data-n=${row.previous[m] ?? ''} title=${`Previous: ${metricValue(m, row.previous[m])}`}>${c.dir > 0 ? '↑ ' : c.dir < 0 ? '↓ ' : ''}${c.text}</span>`}
          </button>
        </li>`;
      })}
    </ul>
  </section>`;
}

// TabbedList is a card of ranked lists, one per tab, each a dimension
// broken down by cols.
function TabbedList({ ctx, id, title, tabs, onFilter }) {
  const [tab, setTab] = useState(tabs[0].key);
  const [more, setMore] = useState(false);
  const t = tabs.find((x) => x.key === tab) || tabs[0];
  const metrics = t.cols.map((c) => c.key);
  const st = useLoad((signal) => breakdown(ctx, t.dim, metrics, more ? MORE : LIMIT, signal), [key(ctx), t.dim, more]);
  const rows = st.data || [];
  return html`<${Card} id=${id} title=${title} tabs=${tabs.length > 1 ? tabs : null} tab=${tab} onTab=${(k) => { setTab(k); setMore(false); }} state=${panelState(st)}>
    <${BarList} st=${st} rows=${rows} dim=${t.dim} cols=${t.cols} onFilter=${onFilter} label=${t.text} href=${t.href} />
    ${(more || rows.length >= LIMIT) && html`<button type="button" class="more" onClick=${() => setMore(!more)}>${more ? 'Show fewer' : 'Show more'}</button>`}
  </${Card}>`;
}

const VISITORS = { key: 'visitors', label: 'Visitors' };
const VISITS = { key: 'visits', label: 'Visits' };
const PAGEVIEWS = { key: 'pageviews', label: 'Views' };
const BOUNCE = { key: 'bounce_rate', label: 'Bounce' };
const EVENTS = { key: 'events', label: 'Events' };

export function Pages({ ctx, onFilter }) {
  return html`<${TabbedList} ctx=${ctx} id="pages" title="Pages" onFilter=${onFilter} tabs=${[
    { key: 'pages', label: 'Top pages', dim: 'event:page', cols: [VISITORS, PAGEVIEWS] },
    { key: 'entry', label: 'Entry pages', dim: 'visit:entry_page', cols: [VISITORS, VISITS, BOUNCE] },
    { key: 'exit', label: 'Exit pages', dim: 'visit:exit_page', cols: [VISITORS, VISITS] },
  ]} />`;
}

export function Sources({ ctx, onFilter }) {
  const utm = (k, label) => ({ key: k, label, dim: `visit:${k}`, cols: [VISITORS, VISITS] });
  return html`<${TabbedList} ctx=${ctx} id="sources" title="Sources" onFilter=${onFilter} tabs=${[
    { key: 'source', label: 'Sources', dim: 'visit:source', cols: [VISITORS, VISITS, BOUNCE] },
    { key: 'referrer', label: 'Referrers', dim: 'visit:referrer', cols: [VISITORS, VISITS], href: referrerHref },
    utm('utm_source', 'UTM source'),
    utm('utm_medium', 'Medium'),
    utm('utm_campaign', 'Campaign'),
    utm('utm_content', 'Content'),
    utm('utm_term', 'Term'),
  ]} />`;
}

export function Devices({ ctx, onFilter }) {
  return html`<${TabbedList} ctx=${ctx} id="devices" title="Devices" onFilter=${onFilter} tabs=${[
    { key: 'browser', label: 'Browsers', dim: 'visit:browser', cols: [VISITORS, VISITS] },
    { key: 'os', label: 'Operating systems', dim: 'visit:os', cols: [VISITORS, VISITS] },
    { key: 'device', label: 'Devices', dim: 'visit:device', cols: [VISITORS, VISITS] },
  ]} />`;
}

export function Countries({ ctx, onFilter }) {
  return html`<${TabbedList} ctx=${ctx} id="countries" title="Countries" onFilter=${onFilter} tabs=${[
    { key: 'country', label: 'Countries', dim: 'visit:country', cols: [VISITORS, VISITS], text: countryName },
  ]} />`;
}

// Events lists custom events: every event type but page views.
export function Events({ ctx, onFilter }) {
  const cols = [VISITORS, EVENTS];
  const st = useLoad(async (signal) => {
    const rows = await breakdown(ctx, 'event:name', cols.map((c) => c.key), LIMIT + 1, signal);
    return rows.filter((r) => r.value !== 'page_view').slice(0, LIMIT);
  }, [key(ctx)]);
  return html`<${Card} id="events" title="Custom events" state=${panelState(st)}>
    <${BarList} st=${st} rows=${st.data} dim="event:name" cols=${cols} onFilter=${onFilter} empty="No custom events in this period." />
  </${Card}>`;
}

// Props lists the values of one custom property, under the dashboard's
// filters (so filtering by an event shows that event's properties). The
// keys offered are those found on the latest raw events of the range.
export function Props({ ctx, onFilter }) {
  const [prop, setProp] = useState('');
  const cols = [VISITORS, EVENTS];
  const keys = useLoad(async (signal) => {
    const res = await rawEvents(rawParams(ctx, { limit: '100' }), signal);
    const seen = new Set();
    for (const e of (res && res.events) || []) {
      for (const k of Object.keys(propsOf(e))) seen.add(k);
    }
    return [...seen].sort();
  }, [key(ctx)]);
  const propKey = prop && keys.data && keys.data.includes(prop) ? prop : (keys.data && keys.data[0]) || '';
  const dim = `event:props:${propKey}`;
  const values = useLoad(async (signal) => (propKey ? breakdown(ctx, dim, cols.map((c) => c.key), LIMIT, signal) : []), [key(ctx), propKey]);
  const state = keys.error || values.error ? 'error' : keys.loading || values.loading ? 'loading' : 'ready';
  return html`<${Card} id="props" title="Properties" state=${state}
      actions=${keys.data && keys.data.length > 0 && html`<span class="prop-pick">
        <label class="sr-only" for="prop-key">Property</label>
        <select id="prop-key" value=${propKey} onChange=${(e) => setProp(e.currentTarget.value)}>
          ${keys.data.map((k) => html`<option value=${k}>${k}</option>`)}
        </select>
      </span>`}>
    ${propKey
      ? html`<${BarList} st=${values} rows=${values.data} dim=${dim} cols=${cols} onFilter=${onFilter} />`
      : html`<${Message} st=${keys} empty="No custom properties on the events of this period." />`}
  </${Card}>`;
}

export function propsOf(e) {
  let p = e && e.props;
  if (typeof p === 'string') {
    try {
      p = p ? JSON.parse(p) : {};
    } catch {
      p = {};
    }
  }
  return p && typeof p === 'object' && !Array.isArray(p) ? p : {};
}

// rawParams are the raw-event API's parameters for the dashboard's range
// and filters.
export function rawParams(ctx, extra) {
  const p = new URLSearchParams({ site_id: ctx.site, from: ctx.range.from, to: ctx.range.to, ...extra });
  if (ctx.filters.length > 0) p.set('filters', JSON.stringify(ctx.filters));
  return p;
}

// Goals lists each goal's converted visitors, completions and conversion
// rate (converted visitors over all visitors of the range and filters).
export function Goals({ ctx, onFilter }) {
  const cols = [{ key: 'visitors', label: 'Uniques' }, { key: 'events', label: 'Total' }, { key: 'conversion_rate', label: 'CR' }];
  const st = useLoad((signal) => breakdown(ctx, 'goal', cols.map((c) => c.key), LIMIT * 2, signal), [key(ctx)]);
  return html`<${Card} id="goals" title="Goals" state=${panelState(st)}>
    <${BarList} st=${st} rows=${st.data} dim="goal" cols=${cols} onFilter=${onFilter}
      empty="No goal completed in this period. Add goals with: sitelog goals add --site SITE --event NAME | --path PATTERN" />
  </${Card}>`;
}
