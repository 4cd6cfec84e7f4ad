// The dashboard's state (site, period, comparison, timeline metric and
// filters) lives in the URL's query string, so that any view can be
// bookmarked and shared. The report key never does: it stays in
// sessionStorage (see api.js).

export const PERIODS = [
  { key: 'day', label: 'Today' },
  { key: 'yesterday', label: 'Yesterday' },
  { key: '7d', label: 'Last 7 days' },
  { key: '30d', label: 'Last 30 days' },
  { key: 'month', label: 'This month' },
  { key: 'lastmonth', label: 'Last month' },
  { key: '12mo', label: 'Last 12 months' },
  { key: 'custom', label: 'Custom range' },
];

export const COMPARES = [
  { key: 'previous_period', label: 'vs previous period' },
  { key: 'year_over_year', label: 'vs year before' },
  { key: 'off', label: 'no comparison' },
];

export const FILTER_OPS = { is: 'is', is_not: 'is not', contains: 'contains', matches: 'matches' };

const DEFAULTS = { period: '30d', compare: 'previous_period', metric: 'visitors' };
const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

// readState parses a query string ("?site=a&period=7d&f=is,event:page,/a").
// A filter is op,dimension,value: the value is everything after the second
// comma, so it may hold commas itself.
export function readState(search) {
  const q = new URLSearchParams(search);
  const period = PERIODS.some((p) => p.key === q.get('period')) ? q.get('period') : DEFAULTS.period;
  const compare = COMPARES.some((c) => c.key === q.get('compare')) ? q.get('compare') : DEFAULTS.compare;
  const s = {
    site: q.get('site') || '',
    period,
    from: ISO_DAY.test(q.get('from') || '') ? q.get('from') : '',
    to: ISO_DAY.test(q.get('to') || '') ? q.get('to') : '',
    compare,
    metric: q.get('metric') || DEFAULTS.metric,
    filters: [],
  };
  if (s.period === 'custom' && (!s.from || !s.to)) s.period = DEFAULTS.period;
  if (s.period === 'custom' && s.from > s.to) [s.from, s.to] = [s.to, s.from];
  for (const f of q.getAll('f')) {
    const i = f.indexOf(',');
    const j = f.indexOf(',', i + 1);
    if (i < 0 || j < 0) continue;
    const op = f.slice(0, i);
    const dim = f.slice(i + 1, j);
    if (!(op in FILTER_OPS) || dim === '') continue;
    s.filters.push([op, dim, [f.slice(j + 1)]]);
  }
  return s;
}

// writeState is the query string of s, without the defaults.
export function writeState(s) {
  const q = new URLSearchParams();
  if (s.site) q.set('site', s.site);
  if (s.period !== DEFAULTS.period) q.set('period', s.period);
  if (s.period === 'custom') {
    q.set('from', s.from);
    q.set('to', s.to);
  }
  if (s.compare !== DEFAULTS.compare) q.set('compare', s.compare);
  if (s.metric !== DEFAULTS.metric) q.set('metric', s.metric);
  for (const [op, dim, values] of s.filters) q.append('f', `${op},${dim},${values[0]}`);
  const out = q.toString();
  return out ? `?${out}` : '';
}

// withFilter returns the filters with [op, dim, [value]] in place of any
// filter on the same dimension.
export function withFilter(filters, op, dim, value) {
  return [...filters.filter((f) => f[1] !== dim), [op, dim, [value]]];
}

// todayIn is the date in the time zone tz, YYYY-MM-DD.
export function todayIn(tz, now = new Date()) {
  try {
    return new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
  } catch {
    return now.toISOString().slice(0, 10);
  }
}

// addDays adds n days to an ISO day.
export function addDays(day, n) {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

// resolveRange returns the first and last day of the state's period in
// time zone tz, reckoned as the query API does (every range ends today,
// today included, except yesterday, last month and custom ones), with
// date_range: what the query API is sent (its own names where it has one,
// else the two days), and the timeline's granularity.
export function resolveRange(s, tz, now = new Date()) {
  const today = todayIn(tz, now);
  let from;
  let to = today;
  let dateRange;
  switch (s.period) {
    case 'day':
      from = today;
      dateRange = 'day';
      break;
    case 'yesterday':
      from = to = addDays(today, -1);
      break;
    case '7d':
      from = addDays(today, -6);
      dateRange = '7d';
      break;
    case 'month':
      from = `${today.slice(0, 8)}01`;
      dateRange = 'month';
      break;
    case 'lastmonth': {
      to = addDays(`${today.slice(0, 8)}01`, -1);
      from = `${to.slice(0, 8)}01`;
      break;
    }
    case '12mo': {
      // This month and the eleven before it, as the query API counts them.
      const d = new Date(`${today.slice(0, 8)}01T00:00:00Z`);
      d.setUTCMonth(d.getUTCMonth() - 11);
      from = d.toISOString().slice(0, 10);
      dateRange = '12mo';
      break;
    }
    case 'custom':
      from = s.from;
      to = s.to;
      break;
    default: // 30d
      from = addDays(today, -29);
      dateRange = '30d';
  }
  return {
    from,
    to,
    dateRange: dateRange || [from, to],
    granularity: from === to ? 'hour' : 'day',
  };
}
