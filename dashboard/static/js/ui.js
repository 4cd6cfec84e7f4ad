// Shared view pieces. Every value that came from outside (paths,
// referrers, props, UTM values) reaches the page as a child text node or
// an attribute set as a property, never as markup: htm builds elements,
// not HTML strings.

import { h } from '../vendor/preact.js';
import { useEffect, useRef, useState } from '../vendor/hooks.js';
import htm from '../vendor/htm.js';
import { metricValue, number } from './format.js';

export const html = htm.bind(h);

// useLoad runs load(signal) whenever deps (JSON-able values) change and
// returns {data, error, loading}. loading is true from the very render in
// which deps change, so a panel never shows old data as current; a run made
// stale by newer deps is aborted and its answer dropped.
export function useLoad(load, deps) {
  const key = JSON.stringify(deps);
  const [st, setSt] = useState({ key: null, data: null, error: null });
  useEffect(() => {
    const ctl = new AbortController();
    load(ctl.signal).then(
      (data) => {
        if (!ctl.signal.aborted) setSt({ key, data, error: null });
      },
      (error) => {
        if (!ctl.signal.aborted) setSt({ key, data: null, error });
      },
    );
    return () => ctl.abort();
  }, [key]);
  return { data: st.data, error: st.error, loading: st.key !== key };
}

// panelState is the data-state of a panel: loading, error or ready. Tests
// and the first-render mark wait for every panel to leave "loading".
export function panelState(st) {
  if (st.loading) return 'loading';
  return st.error ? 'error' : 'ready';
}

// Card is a panel: a titled box, with tabs when it has several views.
export function Card({ id, title, tabs, tab, onTab, state, wide, actions, children }) {
  return html`<section class=${`card${wide ? ' wide' : ''}`} data-panel=${id} data-state=${state} aria-busy=${state === 'loading'} aria-labelledby=${`${id}-title`}>
    <header class="card-head">
      <h2 id=${`${id}-title`}>${title}</h2>
      ${tabs && html`<${Tabs} id=${id} tabs=${tabs} tab=${tab} onTab=${onTab} />`}
      ${actions}
    </header>
    ${children}
  </section>`;
}

// Tabs follow the WAI-ARIA tabs pattern: arrow keys move between them.
export function Tabs({ id, tabs, tab, onTab }) {
  const onKey = (e) => {
    const i = tabs.findIndex((t) => t.key === tab);
    let j = -1;
    if (e.key === 'ArrowRight') j = (i + 1) % tabs.length;
    if (e.key === 'ArrowLeft') j = (i - 1 + tabs.length) % tabs.length;
    if (j < 0) return;
    e.preventDefault();
    onTab(tabs[j].key);
    const next = e.currentTarget.querySelectorAll('[role=tab]')[j];
    if (next) next.focus();
  };
  return html`<div class="tabs" role="tablist" aria-label="View" onKeyDown=${onKey}>
    ${tabs.map(
      (t) => html`<button type="button" role="tab" id=${`${id}-tab-${t.key}`} data-tab=${t.key}
        aria-selected=${t.key === tab} tabindex=${t.key === tab ? 0 : -1} onClick=${() => onTab(t.key)}>${t.label}</button>`,
    )}
  </div>`;
}

export function Message({ st, empty }) {
  if (st.error) return html`<p class="msg error" role="alert">${st.error.message}</p>`;
  if (st.loading && !st.data) return html`<p class="msg">Loading…</p>`;
  return html`<p class="msg">${empty || 'No data for this period.'}</p>`;
}

// BarList is a ranked list: each row is a button that filters the
// dashboard by its value, behind a bar as long as its share of the first
// metric's largest value. cols are [{key, label}] metrics; label(value)
// gives the text shown for a value, href(value) an optional outbound link.
export function BarList({ st, rows, dim, cols, onFilter, label = (v) => v, href, empty, filterable = (v) => v !== '(other)' }) {
  if (!rows || rows.length === 0) return html`<${Message} st=${st} empty=${empty} />`;
  const first = cols[0].key;
  const max = Math.max(1, ...rows.map((r) => r.metrics[first] || 0));
  return html`<div class=${`barlist${st.loading ? ' stale' : ''}`}>
    <div class="barlist-head" aria-hidden="true"><span>${dimLabel(dim)}</span>${cols.map((c) => html`<span class="num">${c.label}</span>`)}</div>
    <ul>
      ${rows.map((r) => {
        const text = label(r.value);
        const link = href && href(r.value);
        return html`<li class="bar-row" data-dim=${dim} data-value=${r.value}>
          <span class="bar" style=${{ width: `${((r.metrics[first] || 0) / max) * 100}%` }}></span>
          <span class="bar-name">
            ${filterable(r.value)
              ? html`<button type="button" class="bar-label" title=${`Filter by ${text}`} onClick=${() => onFilter(dim, r.value)}>${text}</button>`
              : html`<span class="bar-label">${text}</span>`}
            ${link && html`<a class="out" href=${link} target="_blank" rel="noopener noreferrer" title=${`Open ${link}`} aria-label=${`Open ${text}`}>↗</a>`}
          </span>
          ${cols.map((c) => html`<span class="num" data-metric=${c.key} data-n=${r.metrics[c.key] ?? ''} title=${c.label}>${metricValue(c.key, r.metrics[c.key])}</span>`)}
        </li>`;
      })}
    </ul>
  </div>`;
}

// DIM_LABELS name the query API's dimensions for people.
export const DIM_LABELS = {
  'event:page': 'Page',
  'event:hostname': 'Hostname',
  'event:name': 'Event',
  'visit:entry_page': 'Entry page',
  'visit:exit_page': 'Exit page',
  'visit:source': 'Source',
  'visit:referrer': 'Referrer',
  'visit:utm_source': 'UTM source',
  'visit:utm_medium': 'UTM medium',
  'visit:utm_campaign': 'UTM campaign',
  'visit:utm_content': 'UTM content',
  'visit:utm_term': 'UTM term',
  'visit:browser': 'Browser',
  'visit:os': 'Operating system',
  'visit:device': 'Device',
  'visit:country': 'Country',
  goal: 'Goal',
};

export function dimLabel(dim) {
  if (dim.startsWith('event:props:')) return `Property ${dim.slice('event:props:'.length)}`;
  return DIM_LABELS[dim] || dim;
}

// Modal is a dialog element opened as modal (focus kept inside, Escape
// closes it).
export function Modal({ title, onClose, children }) {
  const ref = useRef(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    const close = () => onClose();
    d.addEventListener('close', close);
    return () => d.removeEventListener('close', close);
  }, []);
  return html`<dialog ref=${ref} class="modal" aria-label=${title}>
    <header class="card-head"><h2>${title}</h2>
      <button type="button" class="icon" aria-label="Close" onClick=${() => ref.current.close()}>×</button></header>
    ${children}
  </dialog>`;
}

export { number };
