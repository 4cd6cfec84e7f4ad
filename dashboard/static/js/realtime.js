// Realtime: the visitors of the last minutes and the pages they are on,
// polled every few seconds while the tab is visible.

import { useEffect, useState } from '../vendor/hooks.js';
import { realtime } from './api.js';
import { metricValue } from './format.js';
import { BarList, Card, html } from './ui.js';

const EVERY = 5000; // ms

// useRealtime polls the realtime API for site; polling pauses while the
// page is hidden and resumes at once when it shows again.
export function useRealtime(site) {
  const [st, setSt] = useState({ data: null, error: null, loading: true });
  useEffect(() => {
    let timer = 0;
    let ctl = null;
    let stopped = false;
    const poll = async () => {
      clearTimeout(timer);
      if (stopped || document.hidden) return;
      ctl = new AbortController();
      try {
        const data = await realtime(site, ctl.signal);
        if (!stopped) setSt({ data, error: null, loading: false });
      } catch (error) {
        if (!stopped && error.name !== 'AbortError') setSt((s) => ({ ...s, error, loading: false }));
      }
      if (!stopped) timer = setTimeout(poll, EVERY);
    };
    const onVisible = () => {
      if (!document.hidden) poll();
    };
    setSt({ data: null, error: null, loading: true });
    poll();
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      stopped = true;
      clearTimeout(timer);
      if (ctl) ctl.abort();
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [site]);
  return st;
}

// visitorsNow reads the count of current visitors from an answer.
export function visitorsNow(data) {
  if (!data) return null;
  return typeof data.visitors === 'number' ? data.visitors : null;
}

export function RealtimeBadge({ st }) {
  const n = visitorsNow(st.data);
  return html`<p class="live" data-panel="realtime-badge" data-state=${st.loading ? 'loading' : st.error ? 'error' : 'ready'} title="Visitors in the last 5 minutes">
    <span class="dot" aria-hidden="true"></span>
    <span data-n=${n ?? ''}>${n === null ? '–' : metricValue('visitors', n)}</span> current visitor${n === 1 ? '' : 's'}
  </p>`;
}

export function Realtime({ st, onFilter }) {
  const pages = ((st.data && st.data.top_pages) || []).map((p) => ({
    value: String(p.page),
    metrics: { visitors: p.visitors, pageviews: p.pageviews },
  }));
  return html`<${Card} id="realtime" title="Realtime: top pages now" state=${st.loading ? 'loading' : st.error ? 'error' : 'ready'}>
    <${BarList} st=${st} rows=${pages} dim="event:page" cols=${[{ key: 'visitors', label: 'Visitors' }, { key: 'pageviews', label: 'Views' }]} onFilter=${onFilter}
      empty="Nobody on the site in the last 5 minutes." />
  </${Card}>`;
}
