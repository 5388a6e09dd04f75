// The portal's own browser script and styles, served as files from /portal/assets (no inline script or style: the
// CSP allows scripts from 'self' only). Plain ES2020, no build step.

/**
 * The browser script: shows every `<time datetime>` in the browser's zone, draws the overview chart with uPlot from
 * the chart element's `data-series` (`{"t": [unix s], "attempts": [n], "rate": [% | null]}`), sends the CSRF token
 * on htmx requests, and asks before a form marked `data-confirm` is sent.
 */
export const PORTAL_JS = `'use strict';
(() => {
  const fmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  function localTimes(root) {
    for (const t of root.querySelectorAll('time[datetime]')) {
      if (t.dataset.local) continue;
      const d = new Date(t.getAttribute('datetime'));
      if (Number.isNaN(d.getTime())) continue;
      t.title = t.getAttribute('datetime');
      t.textContent = fmt.format(d);
      t.dataset.local = '1';
    }
  }
  function drawChart() {
    const el = document.getElementById('deliveries-chart');
    if (!el || el.dataset.drawn || typeof uPlot === 'undefined') return;
    const d = JSON.parse(el.dataset.series);
    const width = () => Math.max(280, el.clientWidth);
    const u = new uPlot(
      {
        width: width(),
        height: 260,
        scales: { x: { time: true }, rate: { range: [0, 100] } },
        series: [
          {},
          { label: 'Deliveries per minute', stroke: '#2563eb', fill: 'rgba(37, 99, 235, 0.12)', width: 1 },
          { label: 'Success rate (%)', stroke: '#15803d', scale: 'rate', width: 1, spanGaps: false },
        ],
        axes: [{}, { label: 'deliveries' }, { side: 1, scale: 'rate', label: '%', grid: { show: false } }],
      },
      [d.t, d.attempts, d.rate],
      el,
    );
    const hourAgo = Date.now() / 1000 - 3600;
    el.dataset.pointsLastHour = String(d.t.filter((t, i) => t >= hourAgo && d.attempts[i] > 0).length);
    el.dataset.drawn = '1';
    window.addEventListener('resize', () => u.setSize({ width: width(), height: 260 }));
  }
  document.addEventListener('htmx:configRequest', (e) => {
    const m = document.querySelector('meta[name="csrf-token"]');
    if (m) e.detail.headers['x-csrf-token'] = m.getAttribute('content');
  });
  document.addEventListener('htmx:afterSwap', (e) => localTimes(e.target));
  document.addEventListener('submit', (e) => {
    const q = e.target.getAttribute && e.target.getAttribute('data-confirm');
    if (q && !window.confirm(q)) e.preventDefault();
  }, true);
  function ready() {
    localTimes(document);
    drawChart();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', ready);
  else ready();
})();
`;

/** The portal's styles: readable from 390 px to 1280 px wide; tables scroll sideways inside their box. */
export const PORTAL_CSS = `
:root { color-scheme: light; --fg: #111827; --muted: #4b5563; --line: #d1d5db; --accent: #1d4ed8; --bad: #b91c1c; --ok: #15803d; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: #f9fafb; }
header { display: flex; flex-wrap: wrap; gap: .5rem 1.25rem; align-items: center; padding: .6rem 1rem; background: #111827; color: #fff; }
header a { color: #e5e7eb; text-decoration: none; padding: .2rem 0; margin-right: .9rem; }
header a[aria-current="page"] { color: #fff; border-bottom: 2px solid #60a5fa; }
header .brand { font-weight: 700; color: #fff; margin-right: .5rem; }
header form { margin-left: auto; }
header .who { color: #9ca3af; font-size: .9em; }
main { max-width: 1240px; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.4rem; margin: .3rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .6rem; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.box { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8rem; margin-bottom: 1rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: .4rem .55rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; background: #f3f4f6; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .88em; }
pre { background: #f3f4f6; border: 1px solid var(--line); padding: .6rem; overflow: auto; max-height: 28rem; white-space: pre-wrap; word-break: break-all; }
form.inline { display: inline; }
.filters { display: flex; flex-wrap: wrap; gap: .6rem; align-items: flex-end; }
.field { display: flex; flex-direction: column; gap: .2rem; margin-bottom: .6rem; }
.field label, .filters label { font-weight: 600; font-size: .9em; }
input, select { font: inherit; padding: .35rem .45rem; border: 1px solid #9ca3af; border-radius: 4px; max-width: 100%; }
input[type="url"], input[type="text"], input[type="password"] { width: 28rem; }
button { font: inherit; padding: .38rem .8rem; border-radius: 4px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
.actions { display: flex; flex-wrap: wrap; gap: .5rem; align-items: flex-end; margin: .6rem 0; }
.status-succeeded, .status-enabled, .status-processed, .ok { color: var(--ok); font-weight: 600; }
.status-failed, .status-disabled, .bad { color: var(--bad); font-weight: 600; }
.notice { border-left: 4px solid var(--accent); background: #eff6ff; padding: .6rem .8rem; margin-bottom: 1rem; }
.error { border-left: 4px solid var(--bad); background: #fef2f2; padding: .6rem .8rem; margin-bottom: 1rem; }
.secret { font-size: 1.05em; background: #fefce8; padding: .3rem .5rem; border: 1px dashed #ca8a04; word-break: break-all; }
.muted { color: var(--muted); }
.chart { min-height: 300px; }
figure { margin: 0; }
dl.props { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; margin: 0; }
dl.props dt { font-weight: 600; }
dl.props dd { margin: 0; word-break: break-all; }
ol.timeline { list-style: none; padding-left: 0; border-left: 3px solid var(--line); margin-left: .4rem; }
ol.timeline li { padding: .2rem 0 .6rem 1rem; }
.login { max-width: 30rem; margin: 4rem auto; }
.login input { width: 100%; }
@media (max-width: 600px) {
  main { padding: .6rem; }
  input[type="url"], input[type="text"], input[type="password"] { width: 100%; }
  header form { margin-left: 0; }
}
`;
