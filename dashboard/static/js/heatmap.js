// User activity patterns: page views by weekday and hour of day, in the
// site's time zone (the query API's days and hours are the site's local
// ones), summed over the range.

import { query } from './api.js';
import { number } from './format.js';
import { baseQuery, rowsOf } from './query.js';
import { Card, html, panelState, useLoad } from './ui.js';

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
const HOURS = Array.from({ length: 24 }, (_, i) => String(i).padStart(2, '0'));

// dayHour reads a time:hour bucket ("2026-01-05 13:00:00", the site's
// local day and hour) as [day, hour].
export function dayHour(label) {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}):/.exec(label);
  return m ? [m[1], m[2]] : null;
}

// weekdayOf is 0 for Monday … 6 for Sunday of an ISO day.
function weekdayOf(day) {
  return (new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7;
}

export function Heatmap({ ctx }) {
  const st = useLoad(async (signal) => {
    const res = await query({ ...baseQuery(ctx), metrics: ['pageviews'], dimensions: ['time:hour'], pagination: { limit: 10000 } }, signal);
    const grid = WEEKDAYS.map(() => HOURS.map(() => 0));
    for (const r of rowsOf(res, ['pageviews'])) {
      const dh = dayHour(r.value);
      if (!dh) continue;
      grid[weekdayOf(dh[0])][Number(dh[1])] += r.metrics.pageviews || 0;
    }
    return grid;
  }, [JSON.stringify([ctx.site, ctx.range.dateRange, ctx.filters])]);
  const grid = st.data;
  const max = grid ? Math.max(1, ...grid.flat()) : 1;
  return html`<${Card} id="heatmap" title="Activity by weekday and hour" wide state=${panelState(st)}>
    ${st.error && html`<p class="msg error" role="alert">${st.error.message}</p>`}
    <div class="heatmap-scroll">
      <table class="heatmap">
        <caption class="sr-only">Page views by weekday and hour of day, site time (${ctx.timeZone})</caption>
        <thead><tr><td></td>${HOURS.map((h) => html`<th scope="col" class=${Number(h) % 3 ? 'minor' : ''}>${h}</th>`)}</tr></thead>
        <tbody>
          ${WEEKDAYS.map((d, i) => html`<tr>
            <th scope="row">${d}</th>
            ${HOURS.map((h, j) => {
              const v = grid ? grid[i][j] : 0;
              const level = v === 0 ? 0 : Math.min(5, 1 + Math.floor((v / max) * 4.999));
              return html`<td class=${`heat l${level}`} data-n=${v} title=${`${d} ${h}:00 – ${number(v)} page views`}><span class="sr-only">${v}</span></td>`;
            })}
          </tr>`)}
        </tbody>
      </table>
    </div>
    <p class="note">Times in ${ctx.timeZone}.</p>
  </${Card}>`;
}
