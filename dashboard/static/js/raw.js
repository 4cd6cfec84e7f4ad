// Raw events, newest first, a page at a time, under the dashboard's range
// and filters: what happened, event by event. Clicking a value filters by
// it like any list row.

import { useState } from '../vendor/hooks.js';
import { rawEvents } from './api.js';
import { countryName, dateTime, referrerHref } from './format.js';
import { propsOf, rawParams } from './panels.js';
import { Card, html, panelState, useLoad } from './ui.js';

const PAGE = 25;

// field reads the first of names that the event has.
function field(e, ...names) {
  for (const n of names) if (e[n] !== undefined && e[n] !== null) return e[n];
  return '';
}

export function RawEvents({ ctx, onFilter }) {
  // cursors[i] is the cursor of page i; page 0 has none.
  const [cursors, setCursors] = useState(['']);
  const [ctxKey, setCtxKey] = useState('');
  const k = JSON.stringify([ctx.site, ctx.range.from, ctx.range.to, ctx.filters]);
  let stack = cursors;
  if (k !== ctxKey) {
    stack = [''];
    setCtxKey(k);
    setCursors(stack);
  }
  const page = stack.length - 1;
  const cursor = stack[page];
  const st = useLoad((signal) => rawEvents(rawParams(ctx, cursor ? { limit: String(PAGE), cursor } : { limit: String(PAGE) }), signal), [k, cursor]);
  const events = (st.data && st.data.events) || [];
  const next = (st.data && st.data.next_cursor) || '';
  const cell = (dim, v, text = v, cls = '') => (v === '' ? html`<td></td>` : html`<td class=${cls}><button type="button" class="cell" title=${`Filter by ${text}`} onClick=${() => onFilter(dim, v)}>${text}</button></td>`);
  return html`<${Card} id="raw" title="Raw events" wide state=${panelState(st)}
      actions=${html`<div class="pager">
        <button type="button" disabled=${page === 0} onClick=${() => setCursors(stack.slice(0, -1))}>← Newer</button>
        <span class="page-no">Page ${page + 1}</span>
        <button type="button" disabled=${!next || events.length === 0} onClick=${() => setCursors([...stack, next])}>Older →</button>
      </div>`}>
    ${st.error && html`<p class="msg error" role="alert">${st.error.message}</p>`}
    ${!st.error && events.length === 0 && html`<p class="msg">${st.loading ? 'Loading…' : 'No events in this period.'}</p>`}
    ${events.length > 0 && html`<div class="table-scroll"><table class=${`raw${st.loading ? ' stale' : ''}`}>
      <thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Page</th><th scope="col">Source</th><th scope="col">Referrer</th>
        <th scope="col">Browser</th><th scope="col">OS</th><th scope="col">Device</th><th scope="col">Country</th><th scope="col">Properties</th></tr></thead>
      <tbody>
        ${events.map((e) => {
          const ref = String(field(e, 'referrer'));
          const link = referrerHref(ref);
          const props = Object.entries(propsOf(e));
          const type = String(field(e, 'type'));
          return html`<tr class="raw-row">
            <td class="time">${dateTime(field(e, 'time'), ctx.timeZone)}</td>
            ${cell('event:name', type, type, 'short')}
            ${cell('event:page', String(field(e, 'path')))}
            ${cell('visit:source', String(field(e, 'source')))}
            <td>${ref}${link && html` <a class="out" href=${link} target="_blank" rel="noopener noreferrer" aria-label=${`Open ${ref}`}>↗</a>`}</td>
            ${cell('visit:browser', String(field(e, 'browser')), undefined, 'short')}
            ${cell('visit:os', String(field(e, 'os')), undefined, 'short')}
            ${cell('visit:device', String(field(e, 'device')), undefined, 'short')}
            ${cell('visit:country', String(field(e, 'country')), countryName(String(field(e, 'country'))))}
            <td class="props">${props.map(([pk, pv]) => html`<button type="button" class="cell prop" title=${`Filter by ${pk} = ${pv}`}
              onClick=${() => onFilter(`event:props:${pk}`, String(pv))}><span class="pk">${pk}</span>=<span class="pv">${String(pv)}</span></button> `)}</td>
          </tr>`;
        })}
      </tbody>
    </table></div>`}
  </${Card}>`;
}
