// Requests to the report's APIs. The report key, when one is needed, is kept
// in sessionStorage (gone when the tab closes) and sent only as an
// Authorization header: never in a URL, so it stays out of history,
// bookmarks and server logs.

const KEY = 'sitelog.key';

export function getKey() {
  try {
    return sessionStorage.getItem(KEY) || '';
  } catch {
    return '';
  }
}

export function setKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function clearKey() {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // storage disabled: nothing was kept
  }
}

// ApiError is an answer other than 2xx, with the API's own message.
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// RETRIES is how often a request answered 503 (a busy database) is tried
// again, after the Retry-After the server asks for.
const RETRIES = 2;

async function request(url, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  const key = getKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  for (let attempt = 0; ; attempt++) {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
      credentials: 'omit',
    });
    if (res.status !== 503 || attempt >= RETRIES) break;
    const wait = Math.min(5, Math.max(1, Number(res.headers.get('Retry-After')) || 1));
    await new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, wait * 1000);
      signal?.addEventListener('abort', () => {
        clearTimeout(timer);
        reject(signal.reason);
      }, { once: true });
    });
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    // not JSON: an error page of a proxy in front, say
  }
  if (!res.ok) {
    const msg = (data && typeof data.error === 'string' && data.error) || `${res.status} ${res.statusText}`;
    if (res.status === 401 && url !== '/dashboard/session') {
      window.dispatchEvent(new CustomEvent('sitelog:unauthorized', { detail: msg }));
    }
    throw new ApiError(res.status, msg);
  }
  return data;
}

// session asks which sites the key (or anyone, without keys) may read.
export function session() {
  return request('/dashboard/session');
}

// query posts a Stats API v2 query.
export function query(body, signal) {
  return request('/api/v1/query', { method: 'POST', body, signal });
}

// realtime fetches the visitors of the last minutes and the top pages now.
export function realtime(site, signal) {
  return request(`/api/v1/realtime?${new URLSearchParams({ site_id: site })}`, { signal });
}

// events fetches a page of raw events, newest first.
export function rawEvents(params, signal) {
  return request(`/api/v1/events?${new URLSearchParams(params)}`, { signal });
}

// sites lists the registered sites (admin keys only).
export function sites() {
  return request('/api/sites');
}
