/**
 * The status page: one self-contained HTML document (inline CSS and script under a per-response
 * nonce, no external request) that polls the handler's JSON view and redraws. Every value from
 * the view is written with `textContent`, never as HTML: error texts come from remote servers.
 *
 * @module
 * @internal
 */

/** Escapes text for an HTML text node or a double-quoted attribute. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CSS = `
:root{--bg:#f6f7f9;--card:#fff;--ink:#1d2330;--dim:#677084;--line:#e3e6ec;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--accent:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--card:#171a21;--ink:#e6e8ee;--dim:#9098a9;--line:#2a2f3a;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--accent:#58a6ff}}
*{box-sizing:border-box}body{margin:0;font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--ink)}
header{display:flex;flex-wrap:wrap;gap:12px;align-items:center;padding:14px 20px;border-bottom:1px solid var(--line);background:var(--card)}
h1{font-size:18px;margin:0}h2{font-size:14px;margin:0 0 8px;color:var(--dim);text-transform:uppercase;letter-spacing:.04em}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:14px;padding:14px 20px}
section{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;overflow:auto}
section.wide{grid-column:1/-1}@media (min-width:760px){section.span2{grid-column:span 2}}
table{border-collapse:collapse;width:100%}th,td{text-align:right;padding:3px 8px;border-bottom:1px solid var(--line);white-space:nowrap}
th:first-child,td:first-child{text-align:left}th.text,td.text{text-align:left;white-space:normal;max-width:520px;word-break:break-word}
th{color:var(--dim);font-weight:600}
.pill{display:inline-block;padding:2px 8px;border-radius:999px;font-size:12px;font-weight:600;border:1px solid currentColor}
.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}.dim{color:var(--dim)}
.big{font-size:22px;font-variant-numeric:tabular-nums}.num{font-variant-numeric:tabular-nums}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(90px,1fr));gap:8px}.kpis div{display:flex;flex-direction:column}
progress{width:120px;vertical-align:middle}#updated{margin-left:auto}
`;

const SCRIPT = `
(() => {
  'use strict';
  const REFRESH = Number(document.body.dataset.refresh) || 1000;
  const url = new URL(location.href);
  url.searchParams.set('format', 'json');
  const $ = (id) => document.getElementById(id);
  const el = (tag, text, cls) => { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; };
  const fmt = (n) => n === null || n === undefined ? '\\u221e' : (Math.round(n * 10) / 10).toLocaleString('en');
  const time = (ms) => new Date(ms).toLocaleTimeString('en-GB');
  let previous = null;
  let lastOk = 0;
  let busy = false;

  function rows(tbody, items, cells) {
    const frag = document.createDocumentFragment();
    for (const item of items) {
      const tr = document.createElement('tr');
      for (const c of cells(item)) tr.appendChild(c);
      frag.appendChild(tr);
    }
    tbody.replaceChildren(frag);
  }

  function render(v) {
    const rates = new Map();
    if (previous !== null && v.at > previous.at) {
      const before = new Map(previous.domains.map((d) => [d.domain, d.sent]));
      for (const d of v.domains) if (before.has(d.domain)) rates.set(d.domain, (d.sent - before.get(d.domain)) / ((v.at - previous.at) / 1000));
    }
    const sentRate = previous !== null && v.at > previous.at ? (v.totals.sent - previous.totals.sent) / ((v.at - previous.at) / 1000) : null;
    previous = v;
    const t = v.transport;
    const state = t.down !== null ? ['down: ' + t.down, 'bad'] : t.paused ? ['paused', 'warn'] : t.throttled ? ['throttled', 'warn'] : ['up', 'ok'];
    const pill = $('transport');
    pill.textContent = t.name + ' ' + state[0];
    pill.className = 'pill ' + state[1];
    const ready = Object.values(v.lanes).reduce((a, b) => a + b, 0);
    const kpis = [['queued', ready], ['scheduled', v.scheduled], ['in flight', v.inflight], ['sent', v.totals.sent], ['sent/s', sentRate === null ? '-' : fmt(sentRate)], ['deferred', v.totals.deferred], ['failed', v.totals.failed], ['expired', v.totals.expired], ['throttled', v.totals.throttled]];
    rows($('kpis-body'), [kpis], (all) => all.map(([label, value]) => { const td = el('td'); td.appendChild(el('div', value, 'big')); td.appendChild(el('div', label, 'dim')); td.dataset.kpi = label; return td; }));
    rows($('lanes'), Object.entries(v.lanes), ([lane, n]) => [el('td', lane), el('td', n.toLocaleString('en'), 'num')]);
    $('backlog').textContent = v.backlog ? 'more messages wait in the store' : '';
    rows($('domains'), v.domains, (d) => {
      const st = d.pausedUntil > 0 ? ['paused until ' + time(d.pausedUntil), 'warn'] : d.throttled ? ['throttled', 'warn'] : ['ok', 'ok'];
      const r = rates.get(d.domain);
      return [el('td', d.domain), el('td', d.queued, 'num'), el('td', d.inflight, 'num'), el('td', r === undefined ? '-' : fmt(r), 'num rate'), el('td', fmt(d.ratePerSecond), 'num'), el('td', st[0], st[1]), el('td', d.sent, 'num sent'), el('td', d.deferred, 'num'), el('td', d.failed + d.expired, 'num'), el('td', d.suppressed, 'num')];
    });
    rows($('failures'), v.failures.slice(0, 10), (f) => [el('td', time(f.at)), el('td', f.domain), el('td', f.kind + ' (' + f.reason + ')', f.kind === 'failed' ? 'bad' : 'warn'), el('td', f.code.replace('MAILPUSH_ERR_', '') + (f.responseCode ? ' ' + f.responseCode : '')), el('td', f.recipients.join(', '), 'text'), el('td', f.message, 'text')]);
    $('no-failures').textContent = v.failures.length === 0 ? 'No failures.' : '';
    rows($('campaigns'), v.campaigns, (c) => {
      const done = c.sent + c.failed;
      const bar = el('progress');
      bar.max = Math.max(1, c.queued);
      bar.value = done;
      const td = el('td');
      td.appendChild(bar);
      td.appendChild(el('span', ' ' + (c.queued === 0 ? 0 : Math.floor((100 * done) / c.queued)) + '%', 'num'));
      if (c.state) td.appendChild(el('span', ' ' + c.state + (c.etaMs ? ', ' + Math.ceil(c.etaMs / 1000) + ' s left' : ''), c.state === 'paused' || c.state === 'cancelled' ? 'warn' : 'dim'));
      return [el('td', c.id), el('td', c.queued, 'num'), el('td', c.sent, 'num'), el('td', c.failed, 'num'), el('td', c.deferred, 'num'), el('td', c.pending, 'num'), td];
    });
    $('no-campaigns').textContent = v.campaigns.length === 0 ? 'No campaign yet (messages tagged with a campaign id appear here).' : '';
  }

  async function tick() {
    if (busy) return;
    busy = true;
    try {
      const res = await fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store' });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      render(await res.json());
      lastOk = Date.now();
      $('updated').textContent = 'updated ' + time(lastOk);
      $('updated').className = 'dim';
    } catch (err) {
      $('updated').textContent = 'cannot reach the mailer (' + (err && err.message ? err.message : 'error') + ')' + (lastOk ? ', last update ' + time(lastOk) : '');
      $('updated').className = 'bad';
    } finally {
      busy = false;
    }
  }
  tick();
  setInterval(tick, REFRESH);
})();
`;

/** The page, with `nonce` on its style and script. */
export function renderPage(title: string, refreshMs: number, nonce: string): string {
  const t = escapeHtml(title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${t} status</title>
<link rel="icon" href="data:,">
<style nonce="${nonce}">${CSS}</style>
</head>
<body data-refresh="${refreshMs}">
<header><h1>${t}</h1><span id="transport" class="pill dim">transport</span><span id="updated" class="dim">loading...</span></header>
<main>
<section class="wide"><table><tbody id="kpis-body"></tbody></table></section>
<section><h2>Queue per lane</h2><table><thead><tr><th>lane</th><th>ready jobs</th></tr></thead><tbody id="lanes"></tbody></table><p id="backlog" class="dim"></p></section>
<section class="span2"><h2>Campaigns</h2><table><thead><tr><th>campaign</th><th>queued</th><th>sent</th><th>failed</th><th>deferred</th><th>pending</th><th>progress</th></tr></thead><tbody id="campaigns"></tbody></table><p id="no-campaigns" class="dim"></p></section>
<section class="wide"><h2>Domains</h2><table><thead><tr><th>domain</th><th>queued</th><th>in flight</th><th>sent/s</th><th>limit/s</th><th>state</th><th>sent</th><th>deferred</th><th>failed</th><th>suppressed</th></tr></thead><tbody id="domains"></tbody></table></section>
<section class="wide"><h2>Recent failures (latest 10)</h2><table><thead><tr><th>time</th><th>domain</th><th>what</th><th>code</th><th class="text">recipients</th><th class="text">response</th></tr></thead><tbody id="failures"></tbody></table><p id="no-failures" class="dim"></p></section>
</main>
<script nonce="${nonce}">${SCRIPT}</script>
</body>
</html>
`;
}
