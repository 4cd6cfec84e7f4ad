// The dashboard's entry point: asks the server what the visitor may read
// (showing the login screen when a report key is needed), then renders the
// view that the URL describes and keeps the URL in step with it.

import { render } from '../vendor/preact.js';
import { useEffect, useMemo, useState } from '../vendor/hooks.js';
import { ApiError, clearKey, getKey, session, setKey } from './api.js';
import { Heatmap } from './heatmap.js';
import { Countries, Devices, Events, Goals, Headline, Pages, Props, Sources } from './panels.js';
import { RawEvents } from './raw.js';
import { Realtime, RealtimeBadge, useRealtime } from './realtime.js';
import { COMPARES, FILTER_OPS, PERIODS, readState, resolveRange, withFilter, writeState } from './state.js';
import { Timeline } from './timeline.js';
import { dimLabel, html, Modal } from './ui.js';
import { countryName } from './format.js';

function Root() {
  // auth: null while asking, {need: true, message} for the login screen,
  // or the session's answer.
  const [auth, setAuth] = useState(null);
  const check = async () => {
    try {
      setAuth(await session());
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        const hadKey = getKey() !== '';
        clearKey();
        setAuth({ need: true, message: hadKey ? err.message : '' });
      } else {
        setAuth({ failed: err.message });
      }
    }
  };
  useEffect(() => {
    check();
    const onUnauthorized = (e) => {
      clearKey();
      setAuth({ need: true, message: e.detail });
    };
    window.addEventListener('sitelog:unauthorized', onUnauthorized);
    return () => window.removeEventListener('sitelog:unauthorized', onUnauthorized);
  }, []);
  if (auth === null) return html`<p class="msg center">Loading…</p>`;
  if (auth.failed) return html`<p class="msg center error" role="alert">The server could not be reached: ${auth.failed}</p>`;
  if (auth.need) return html`<${Login} message=${auth.message} onKey=${(k) => { setKey(k); check(); }} />`;
  return html`<${Dashboard} auth=${auth} onLogout=${() => { clearKey(); setAuth({ need: true, message: '' }); }} />`;
}

// Login asks for a report key. The input has no name and the form is
// never submitted to the server, so the key cannot end up in a URL even
// if scripts fail half way.
function Login({ message, onKey }) {
  const submit = (e) => {
    e.preventDefault();
    const k = e.currentTarget.querySelector('#key').value.trim();
    if (k) onKey(k);
  };
  return html`<main class="login">
    <form class="card" method="post" action="#" onSubmit=${submit} aria-labelledby="login-title">
      <h1 id="login-title">sitelog</h1>
      <p>This server needs a report key. Create one with <code>sitelog keys create</code>.</p>
      <label for="key">Report key</label>
      <input id="key" type="password" autocomplete="current-password" required autofocus />
      ${message && html`<p class="msg error" role="alert">${message}</p>`}
      <button type="submit" class="primary">Sign in</button>
      <p class="note">The key is kept in this tab only, until it is closed.</p>
    </form>
  </main>`;
}

function Dashboard({ auth, onLogout }) {
  const [state, setState] = useState(() => readState(location.search));
  const [about, setAbout] = useState(false);
  useEffect(() => {
    const onPop = () => setState(readState(location.search));
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);

  const sites = auth.sites || [];
  // A site key reads its own site whatever the URL says.
  const site = auth.site || state.site || (sites[0] && sites[0].id) || '';
  const timeZone = (sites.find((s) => s.id === site) || {}).time_zone || 'UTC';
  const go = (next, replace = false) => {
    const s = { ...state, ...next };
    const url = `${location.pathname}${writeState(s)}`;
    if (replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    setState(s);
  };
  useEffect(() => {
    if (site && state.site !== site) go({ site }, true);
    document.title = site ? `${site} · sitelog` : 'sitelog';
  }, [site]);

  const range = useMemo(() => resolveRange(state, timeZone), [state.period, state.from, state.to, timeZone]);
  const ctx = useMemo(
    () => ({ site, timeZone, range, filters: state.filters, compare: state.compare }),
    [site, timeZone, range, JSON.stringify(state.filters), state.compare],
  );
  const onFilter = (dim, value) => go({ filters: withFilter(state.filters, 'is', dim, value) });
  const rt = useRealtime(site);

  return html`<div class="app">
    <header class="top">
      <h1 class="brand">sitelog</h1>
      <${SitePicker} sites=${sites} site=${site} fixed=${Boolean(auth.site)} onSite=${(id) => go({ site: id, filters: [] })} />
      ${site && html`<${RealtimeBadge} st=${rt} />`}
      <div class="spacer"></div>
      <${RangePicker} state=${state} range=${range} onChange=${go} />
      <button type="button" class="link about" onClick=${() => setAbout(true)}>About</button>
      ${auth.keys_required && html`<button type="button" class="link signout" onClick=${onLogout}>Sign out</button>`}
    </header>
    ${!site
      ? html`<main class="empty"><p>No site yet. Enter a site id above, or send events: see the README.</p></main>`
      : html`<main>
        <${Chips} filters=${state.filters} onChange=${(filters) => go({ filters })} />
        <${Headline} ctx=${ctx} metric=${state.metric} onMetric=${(metric) => go({ metric })} />
        <${Timeline} ctx=${ctx} metric=${state.metric} onMetric=${(metric) => go({ metric })} />
        <div class="grid">
          <${Pages} ctx=${ctx} onFilter=${onFilter} />
          <${Sources} ctx=${ctx} onFilter=${onFilter} />
          <${Devices} ctx=${ctx} onFilter=${onFilter} />
          <${Countries} ctx=${ctx} onFilter=${onFilter} />
          <${Events} ctx=${ctx} onFilter=${onFilter} />
          <${Props} ctx=${ctx} onFilter=${onFilter} />
          <${Goals} ctx=${ctx} onFilter=${onFilter} />
          <${Realtime} st=${rt} onFilter=${onFilter} />
        </div>
        <${Heatmap} ctx=${ctx} />
        <${RawEvents} ctx=${ctx} onFilter=${onFilter} />
      </main>`}
    ${about && html`<${About} onClose=${() => setAbout(false)} />`}
  </div>`;
}

function SitePicker({ sites, site, fixed, onSite }) {
  const [typing, setTyping] = useState(false);
  if (fixed) return html`<p class="site" title="This key reads one site">${site}</p>`;
  const known = sites.some((s) => s.id === site);
  if (typing || sites.length === 0) {
    const submit = (e) => {
      e.preventDefault();
      const v = e.currentTarget.querySelector('input').value.trim();
      if (v) {
        setTyping(false);
        onSite(v);
      }
    };
    return html`<form class="site-form" onSubmit=${submit}>
      <label class="sr-only" for="site-id">Site id</label>
      <input id="site-id" placeholder="site id" value=${site} pattern="[A-Za-z0-9._:\\-]{1,100}" required />
      <button type="submit">Show</button>
      ${sites.length > 0 && html`<button type="button" class="link" onClick=${() => setTyping(false)}>Cancel</button>`}
    </form>`;
  }
  return html`<div class="site-pick">
    <label class="sr-only" for="site">Site</label>
    <select id="site" value=${known ? site : ''} onChange=${(e) => (e.currentTarget.value === '*other' ? setTyping(true) : onSite(e.currentTarget.value))}>
      ${!known && html`<option value="">${site}</option>`}
      ${sites.map((s) => html`<option value=${s.id}>${s.id}</option>`)}
      <option value="*other">Other site…</option>
    </select>
  </div>`;
}

function RangePicker({ state, range, onChange }) {
  return html`<div class="range">
    <label class="sr-only" for="period">Period</label>
    <select id="period" value=${state.period} onChange=${(e) => {
      const period = e.currentTarget.value;
      onChange(period === 'custom' ? { period, from: range.from, to: range.to } : { period });
    }}>
      ${PERIODS.map((p) => html`<option value=${p.key}>${p.label}</option>`)}
    </select>
    ${state.period === 'custom' && html`<span class="custom">
      <label class="sr-only" for="from">From</label>
      <input id="from" type="date" value=${state.from} max=${state.to} onChange=${(e) => e.currentTarget.value && onChange({ from: e.currentTarget.value })} />
      <span aria-hidden="true">–</span>
      <label class="sr-only" for="to">To</label>
      <input id="to" type="date" value=${state.to} min=${state.from} onChange=${(e) => e.currentTarget.value && onChange({ to: e.currentTarget.value })} />
    </span>`}
    <label class="sr-only" for="compare">Comparison</label>
    <select id="compare" value=${state.compare} onChange=${(e) => onChange({ compare: e.currentTarget.value })}>
      ${COMPARES.map((c) => html`<option value=${c.key}>${c.label}</option>`)}
    </select>
    <span class="range-days" data-from=${range.from} data-to=${range.to}>${range.from === range.to ? range.from : `${range.from} – ${range.to}`}</span>
  </div>`;
}

function chipText([op, dim, values]) {
  const v = dim === 'visit:country' ? countryName(values[0]) : values[0];
  return `${dimLabel(dim)} ${FILTER_OPS[op] || op} ${v}`;
}

function Chips({ filters, onChange }) {
  if (filters.length === 0) return null;
  return html`<ul class="chips" aria-label="Filters">
    ${filters.map((f, i) => html`<li class="chip" data-dim=${f[1]} data-value=${f[2][0]}>
      <span>${chipText(f)}</span>
      <button type="button" class="icon" aria-label=${`Remove filter: ${chipText(f)}`} onClick=${() => onChange(filters.filter((_, j) => j !== i))}>×</button>
    </li>`)}
    ${filters.length > 1 && html`<li><button type="button" class="link" onClick=${() => onChange([])}>Clear all</button></li>`}
  </ul>`;
}

function About({ onClose }) {
  const ext = (href, text) => html`<a href=${href} target="_blank" rel="noopener noreferrer">${text}</a>`;
  // htm drops whitespace that holds a line break: spaces around links are
  // written out.
  return html`<${Modal} title="About sitelog" onClose=${onClose}>
    <div class="about">
      <p>sitelog: self-hosted, privacy-friendly web analytics. No cookies; visitors are counted with a salted hash that changes every day, and neither IP addresses nor User-Agents are stored.</p>
      <p>Countries come from IP addresses at the time of the visit. This site or product includes IP2Location LITE data available from${' '}${ext('https://lite.ip2location.com', 'https://lite.ip2location.com')}.</p>
      <p>The dashboard uses${' '}${ext('https://preactjs.com', 'Preact')} (MIT),${' '}${ext('https://github.com/developit/htm', 'htm')} (Apache-2.0) and${' '}${ext('https://github.com/leeoniya/uPlot', 'uPlot')} (MIT); their licences are served under${' '}${ext('/assets/vendor/VERSIONS', '/assets/vendor/')}.</p>
      <p>The report key, if any, is kept in this browser tab only and sent as an Authorization header.</p>
    </div>
  </${Modal}>`;
}

// markReady records the first moment every panel holds data, as a User
// Timing mark ("sitelog:ready", relative to navigation start), for anyone
// measuring the dashboard's first render.
function markReady() {
  const done = () => {
    const panels = document.querySelectorAll('[data-panel]');
    if (panels.length === 0 || [...panels].some((p) => p.dataset.state === 'loading')) return false;
    performance.mark('sitelog:ready');
    return true;
  };
  const mo = new MutationObserver(() => {
    if (done()) mo.disconnect();
  });
  mo.observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-state'] });
}

markReady();
render(html`<${Root} />`, document.getElementById('app'));
