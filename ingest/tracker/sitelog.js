// sitelog tracker: page views (SPA navigation included), opt-in outbound
// link and file download clicks, and sitelog(name, props) custom events,
// posted as text/plain so that browsers send them without a CORS preflight.
// Configured by its own <script> tag's data-* attributes; see the README.
(function (w, d) {
  var old = w.sitelog, s = d.currentScript || d.querySelector('script[data-site]');
  // Loaded twice: the first copy already tracks this page.
  if (!s || old && old.track) return;
  var l = w.location, h = w.history, last,
    opt = function (n) { var v = s.getAttribute('data-' + n); return v != null && v != 'false' },
    api = (s.getAttribute('data-api') || s.src.split('/').slice(0, 3).join('/')).replace(/\/+$/, '') + '/event',
    site = s.getAttribute('data-site'), hash = opt('hash'), files = s.getAttribute('data-file-downloads'),
    exts = files && files != 'true' && files != 'false' ? files.split(/[\s,]+/) :
      '7z avi csv dmg docx epub exe gz iso key mov mp3 mp4 mpeg msi pdf pkg ppt pptx rar rtf tar txt wav wma wmv xlsx zip'.split(' ');

  function send(type, props) {
    try { if (w.localStorage.sitelog_ignore == 'true') return } catch (e) {}
    if (!opt('allow-localhost') && (/^(localhost|127(\.\d+){3}|\[::1\])$/.test(l.hostname) || l.protocol == 'file:')) return;
    var body = JSON.stringify({site_id: site, event_type: type, url: l.href, referrer: d.referrer,
      screen_width: w.innerWidth, props: props});
    // sendBeacon outlives the page, so a click that leaves it is still
    // counted; it refuses when its queue is full, and fetch takes over.
    if (!(w.navigator.sendBeacon && w.navigator.sendBeacon(api, new Blob([body], {type: 'text/plain'}))))
      w.fetch(api, {method: 'POST', keepalive: true, headers: {'Content-Type': 'text/plain'}, body: body})['catch'](function () {});
  }

  // page counts a view when the path (and with data-hash the fragment)
  // changed: routers call replaceState for scroll positions and query
  // strings. A fragment change fires popstate too, so no hashchange.
  function page() {
    var p = l.pathname + (hash ? l.hash : '');
    if (p != last) { last = p; send('page_view') }
  }

  function click(e) {
    var a = e.target.closest && e.target.closest('a[href]'), m;
    // Middle clicks (auxclick) open links too; the protocol test skips
    // mailto: and javascript: links, and SVG ones.
    if (!a || e.type == 'auxclick' && e.button != 1 || !/^https?:$/.test(a.protocol)) return;
    m = /\.(\w+)$/.exec(a.pathname);
    if (files != null && files != 'false' && m && exts.indexOf(m[1].toLowerCase()) >= 0) send('File Download', {url: a.href});
    else if (opt('outbound-links') && a.hostname != l.hostname) send('Outbound Link: Click', {url: a.href});
  }

  function sitelog(name, props) { send(String(name), props && typeof props == 'object' ? props : void 0) }
  sitelog.track = sitelog;
  w.sitelog = sitelog;

  ['pushState', 'replaceState'].forEach(function (n) {
    var f = h[n];
    h[n] = function () { var r = f.apply(this, arguments); page(); return r };
  });
  w.addEventListener('popstate', page);
  d.addEventListener('click', click, true);
  d.addEventListener('auxclick', click, true);
  // A prerendered page counts once the visitor actually opens it.
  if (d.prerendering) d.addEventListener('prerenderingchange', page, {once: true});
  else page();
  // Calls queued before the script loaded, after the view they belong to.
  for (var q = old && old.q || [], i = 0; i < q.length; i++) sitelog.apply(null, q[i]);
})(window, document);
