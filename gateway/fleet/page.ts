// The fleet page: one self-contained HTML document (inline CSS and script, nothing fetched from elsewhere) that
// follows GET /fleet/events and redraws nodes, trees, agents and dead letters from each snapshot, no reload.
// A browser cannot set headers on a page load or an EventSource, so the page takes the key as `?key=`, keeps it
// in sessionStorage and strips it from the address bar.

const CSS = `
:root{--bg:#0f1419;--panel:#171e26;--line:#2a3440;--text:#d8dee6;--dim:#8593a3;--ok:#4caf7a;--warn:#e0a93b;--bad:#e0605a;--link:#6cb4ff}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--text)}
header{display:flex;align-items:center;gap:16px;padding:12px 20px;border-bottom:1px solid var(--line);background:var(--panel)}
h1{font-size:18px;margin:0}h2{font-size:15px;margin:0 0 8px;color:var(--dim);text-transform:uppercase;letter-spacing:.06em}
#conn{padding:2px 10px;border-radius:10px;font-size:12px;background:var(--line)}#conn.live{background:var(--ok);color:#062}
#conn.down{background:var(--bad);color:#fff}#meta{color:var(--dim);font-size:12px;margin-left:auto}
main{display:grid;grid-template-columns:minmax(320px,1fr) minmax(420px,1.4fr);gap:16px;padding:16px 20px}
section{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px 14px;min-width:0}
#dead-letters-panel{grid-column:1/-1}.node{margin-bottom:12px}.node-head{font-weight:600;margin-bottom:4px}
.node-head small{color:var(--dim);font-weight:400}ul.tree{list-style:none;margin:0;padding-left:16px;border-left:1px dashed var(--line)}
ul.tree>li{margin:2px 0}.actor{display:inline-flex;gap:8px;align-items:baseline}.addr{font-family:ui-monospace,monospace}
.type,.n{color:var(--dim);font-size:12px}.sup::before{content:"\\25C6 ";color:var(--warn)}
.st{font-size:11px;padding:0 6px;border-radius:8px;background:var(--line)}.st-running,.st-listed{background:#1f4a33;color:#9fe3bd}
.st-paused,.st-restarting,.st-starting{background:#4d3d12;color:#f3d68a}.st-stopping,.st-stale{background:#4d1f1c;color:#f3a6a0}
.err{color:var(--bad);font-size:12px}table{width:100%;border-collapse:collapse}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
th{color:var(--dim);font-weight:500;font-size:12px}td.num{text-align:right;font-variant-numeric:tabular-nums}a{color:var(--link)}
.empty{color:var(--dim);font-style:italic}.flash{animation:flash 1s ease-out}@keyframes flash{from{background:#2d4d6d}to{background:transparent}}
`;

const SCRIPT = `
(function(){
  var params = new URLSearchParams(location.search);
  var key = params.get('key');
  try {
    if (key) { sessionStorage.setItem('troupe.fleet.key', key); params.delete('key');
      var q = params.toString(); history.replaceState(null, '', location.pathname + (q ? '?' + q : '')); }
    else key = sessionStorage.getItem('troupe.fleet.key');
  } catch (e) {}
  var root = document.documentElement, updates = 0, seen = {};
  var base = location.pathname.replace(/\\/+$/, '');
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function link(href, text) {
    if (typeof href !== 'string' || !/^https?:\\/\\//.test(href)) return document.createTextNode('');
    var a = el('a', { href: href, target: '_blank', rel: 'noopener' }, text); return a;
  }
  function status(s) { return el('span', { class: 'st st-' + String(s).replace(/[^a-z-]/g, '') }, s); }
  function actor(a) {
    var li = el('li', { 'data-actor': a.address });
    var row = el('span', { class: 'actor' + (a.supervisor ? ' sup' : '') });
    row.appendChild(el('span', { class: 'addr' }, a.address));
    row.appendChild(el('span', { class: 'type' }, a.type));
    row.appendChild(status(a.status));
    row.appendChild(el('span', { class: 'n', title: 'restarts / mailbox / processed' },
      '\\u21BB' + a.restarts + ' \\u2709' + a.mailbox + ' \\u2713' + a.processed));
    if (a.traces) row.appendChild(link(a.traces, 'traces'));
    li.appendChild(row);
    if (a.lastError) li.appendChild(el('div', { class: 'err' }, a.lastError));
    if (!seen[a.address] && updates > 0) li.className = 'flash';
    seen[a.address] = true;
    if (a.children && a.children.length) {
      var ul = el('ul', { class: 'tree' });
      a.children.forEach(function (c) { ul.appendChild(actor(c)); });
      li.appendChild(ul);
    }
    return li;
  }
  function nodes(list) {
    var box = document.getElementById('nodes'); box.textContent = '';
    if (!list.length) { box.appendChild(el('p', { class: 'empty' }, 'no node answered')); return; }
    list.forEach(function (n) {
      var d = el('div', { class: 'node', 'data-node': n.id });
      var h = el('div', { class: 'node-head' }, n.id + ' ');
      h.appendChild(el('small', null, n.actors + ' actor' + (n.actors === 1 ? '' : 's')));
      d.appendChild(h);
      var ul = el('ul', { class: 'tree' });
      n.tree.forEach(function (a) { ul.appendChild(actor(a)); });
      d.appendChild(ul); box.appendChild(d);
    });
  }
  function fixed(v, digits) { return typeof v === 'number' ? v.toFixed(digits) : '-'; }
  function agents(list) {
    var body = document.getElementById('agents'); body.textContent = '';
    if (!list) { body.appendChild(row([el('td', { colspan: 8, class: 'empty' }, 'no agent registry')])); return; }
    if (!list.length) { body.appendChild(row([el('td', { colspan: 8, class: 'empty' }, 'no agents')])); return; }
    list.forEach(function (a) {
      var tr = el('tr', { 'data-agent': a.address });
      var name = el('td'); name.appendChild(el('strong', null, a.name)); name.appendChild(el('div', { class: 'type addr' }, a.address));
      tr.appendChild(name);
      var st = el('td'); st.appendChild(status(a.status)); tr.appendChild(st);
      tr.appendChild(el('td', null, a.model));
      tr.appendChild(el('td', { class: 'num' }, a.load));
      tr.appendChild(el('td', { class: 'num' }, fixed(a.p50LatencyMs, 0) + ' ms'));
      tr.appendChild(el('td', { class: 'num' }, fixed(a.successRate * 100, 0) + '%'));
      tr.appendChild(el('td', { class: 'num' }, '$' + fixed(a.costPer1kTokens.input, 4) + ' / $' + fixed(a.costPer1kTokens.output, 4)));
      var tl = el('td'); if (a.traces) tl.appendChild(link(a.traces, 'traces')); tr.appendChild(tl);
      body.appendChild(tr);
    });
  }
  function row(cells) { var tr = el('tr'); cells.forEach(function (c) { tr.appendChild(c); }); return tr; }
  function letters(list) {
    var body = document.getElementById('dead-letters'); body.textContent = '';
    if (!list.length) { body.appendChild(row([el('td', { colspan: 6, class: 'empty' }, 'no dead letters')])); return; }
    list.slice().reverse().forEach(function (l) {
      var tr = el('tr', { 'data-dead-letter': l.address, 'data-reason': l.reason });
      tr.appendChild(el('td', null, new Date(l.at).toISOString().slice(11, 23)));
      tr.appendChild(el('td', null, l.node));
      tr.appendChild(el('td', { class: 'addr' }, l.address));
      tr.appendChild(el('td', null, l.reason + (l.type ? ' (' + l.type + ')' : '')));
      tr.appendChild(el('td', { class: 'err' }, l.error || ''));
      var tl = el('td'); if (l.traces) tl.appendChild(link(l.traces, l.traceId ? 'trace ' + l.traceId.slice(0, 8) : 'traces'));
      tr.appendChild(tl); body.appendChild(tr);
    });
  }
  var drawn = '';
  function apply(s, seq) {
    // Redraw only what changed: an unchanged snapshot keeps the DOM (and a reader's selection) as it is.
    var content = JSON.stringify([s.nodes, s.agents, s.deadLetters]);
    if (content !== drawn) { nodes(s.nodes); agents(s.agents); letters(s.deadLetters); drawn = content; }
    updates++;
    root.setAttribute('data-updates', String(updates));
    root.setAttribute('data-seq', String(seq));
    document.getElementById('meta').textContent = 'node ' + s.self + ' \\u00B7 ' + new Date(s.at).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  }
  var conn = document.getElementById('conn');
  function connect() {
    var es = new EventSource(base + '/events' + (key ? '?key=' + encodeURIComponent(key) : ''));
    es.addEventListener('open', function () { conn.textContent = 'live'; conn.className = 'live'; });
    es.addEventListener('snapshot', function (ev) {
      try { apply(JSON.parse(ev.data), ev.lastEventId); } catch (e) { conn.textContent = 'bad snapshot'; }
    });
    es.addEventListener('error', function () { conn.textContent = 'reconnecting'; conn.className = 'down'; });
  }
  root.setAttribute('data-script', 'yes');
  connect();
})();
`;

/** The fleet page's HTML (static: the data arrives over GET /fleet/events). */
export function fleetPage(): string {
  return `<!doctype html>
<html lang="en" data-updates="0">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>troupe fleet</title>
<style>${CSS}</style>
</head>
<body>
<header><h1>troupe fleet</h1><span id="conn">connecting</span><span id="meta"></span></header>
<main>
<section id="nodes-panel"><h2>Nodes and supervision trees</h2><div id="nodes"><p class="empty">waiting for the first snapshot</p></div></section>
<section id="agents-panel"><h2>Agents</h2><table><thead><tr><th>Agent</th><th>Status</th><th>Model</th><th>Load</th><th>p50</th><th>Success</th><th>Cost / 1k in / out</th><th></th></tr></thead><tbody id="agents"></tbody></table></section>
<section id="dead-letters-panel"><h2>Recent dead letters</h2><table><thead><tr><th>At (UTC)</th><th>Node</th><th>Address</th><th>Reason</th><th>Error</th><th>Trace</th></tr></thead><tbody id="dead-letters"></tbody></table></section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
