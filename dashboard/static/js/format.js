// Formatting of numbers, durations, changes and dimension values for display.
// Everything here returns strings that the views put in text nodes.

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
const whole = new Intl.NumberFormat('en');
const oneDecimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });
const twoDecimals = new Intl.NumberFormat('en', { maximumFractionDigits: 2 });

// METRICS are the query API's metrics in the order the headline shows them.
export const METRICS = [
  { key: 'visitors', label: 'Unique visitors' },
  { key: 'visits', label: 'Total visits' },
  { key: 'pageviews', label: 'Total pageviews' },
  { key: 'views_per_visit', label: 'Views per visit' },
  { key: 'bounce_rate', label: 'Bounce rate' },
  { key: 'visit_duration', label: 'Visit duration' },
  { key: 'events', label: 'Total events' },
];

// metricValue formats a value of the named metric.
export function metricValue(metric, v) {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  switch (metric) {
    case 'bounce_rate':
    case 'conversion_rate':
      return `${oneDecimal.format(v)}%`;
    case 'visit_duration':
      return duration(v);
    case 'views_per_visit':
      return twoDecimals.format(v);
    default:
      return number(v);
  }
}

// number writes counts compactly from ten thousand on (12.3k), exactly below.
export function number(v) {
  return Math.abs(v) >= 10000 ? compact.format(v) : twoDecimals.format(v);
}

export function exact(v) {
  return whole.format(v);
}

// duration writes seconds as 1h 2m, 3m 4s or 5s.
export function duration(s) {
  s = Math.round(s || 0);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${sec}s`;
  return `${sec}s`;
}

function round(v, digits) {
  const p = 10 ** digits;
  return Math.round(v * p) / p;
}

// change compares a value with the previous period's: a percentage for
// counts, the difference in points for rates. good says whether the
// direction is an improvement (a falling bounce rate is).
export function change(metric, cur, prev) {
  if (prev === null || prev === undefined || cur === null || cur === undefined) return null;
  if (metric === 'bounce_rate' || metric === 'conversion_rate') {
    const d = round(cur - prev, 1);
    return { text: `${Math.abs(d)} pt`, dir: Math.sign(d), good: metric === 'bounce_rate' ? d < 0 : d > 0 };
  }
  if (prev === 0) {
    return cur === 0 ? { text: '0%', dir: 0, good: true } : { text: 'new', dir: 1, good: true };
  }
  const pct = Math.round(((cur - prev) / prev) * 100);
  return { text: `${whole.format(Math.abs(pct))}%`, dir: Math.sign(pct), good: pct >= 0 };
}

let regionNames = null;
// countryName names an ISO 3166-1 alpha-2 code in English. (No flag
// emoji: many systems draw them as boxes or letter pairs.)
export function countryName(code) {
  if (!/^[A-Z]{2}$/.test(code)) return code;
  try {
    regionNames ??= new Intl.DisplayNames(['en'], { type: 'region' });
    return regionNames.of(code);
  } catch {
    return code;
  }
}

// safeHref returns raw as a link target when it is an absolute http or https
// URL, and null otherwise: no javascript:, data: or relative links ever.
export function safeHref(raw) {
  if (typeof raw !== 'string' || raw === '') return null;
  try {
    const u = new URL(raw);
    if ((u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '') return u.href;
  } catch {
    // not a URL: shown as text only
  }
  return null;
}

// referrerHref links a stored referrer (host and path, without scheme).
export function referrerHref(ref) {
  if (typeof ref !== 'string' || !/^[a-z0-9.-]+\.[a-z]{2,}(\/|$)/i.test(ref)) return null;
  return safeHref(`https://${ref}`);
}

export function dateTime(iso, timeZone) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  try {
    return d.toLocaleString('en-GB', { timeZone, dateStyle: 'medium', timeStyle: 'medium' });
  } catch {
    return d.toISOString();
  }
}
