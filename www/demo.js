// The demo: imports the package by name, exactly as a user's app would, and
// sends to the project's collector (`npm start` runs both).
import { createAnalytics } from 'analytics-wasm';
import { createChart } from './chart.js';

const collectorUrl = import.meta.env.VITE_COLLECTOR_URL ?? 'http://127.0.0.1:8788';
const analytics = createAnalytics({ endpoint: `${collectorUrl}/v1/batch`, writeKey: import.meta.env.VITE_WRITE_KEY ?? 'demo' });
window.analytics = analytics;

const $ = (id) => document.getElementById(id);
const errors = [];
analytics.on('error', (error) => {
  errors.unshift(`${new Date().toLocaleTimeString()} ${error.type}: ${error.message}`);
  errors.length = Math.min(errors.length, 50);
});

let clicks = 0;
const properties = () => ({ button: 'demo', clicks: ++clicks, path: location.pathname, at: new Date().toISOString() });

$('track-one').onclick = () => analytics.track('Button Clicked', properties());
$('track-burst').onclick = () => {
  for (let i = 0; i < 1000; i++) analytics.track('Burst Event', { i, ...properties() });
};
$('flush').onclick = async () => {
  const result = await analytics.flush();
  errors.unshift(`${new Date().toLocaleTimeString()} flush(): ${JSON.stringify(result)}`);
};
$('reload').onclick = () => location.reload();
$('identify').onclick = () => analytics.identify('demo-user', { plan: 'pro' });
$('reset').onclick = () => analytics.reset();
$('opt-out').onclick = () => analytics.optOut();
$('opt-in').onclick = () => analytics.optIn();
// The demo's own server stops and starts the collector process (scripts/start.mjs).
const collectorControl = (what) => fetch(`/api/collector/${what}`, { method: 'POST' }).catch(() => {});
$('collector-stop').onclick = () => collectorControl('stop');
$('collector-start').onclick = () => collectorControl('start');

const rows = (table, entries) => {
  table.replaceChildren(
    ...entries.map(([name, value]) => {
      const tr = document.createElement('tr');
      for (const text of [name, value === null ? '—' : String(value)]) {
        const td = document.createElement('td');
        td.textContent = text;
        tr.append(td);
      }
      return tr;
    }),
  );
};
const items = (list, texts) =>
  list.replaceChildren(
    ...texts.map((text) => {
      const li = document.createElement('li');
      li.textContent = text;
      return li;
    }),
  );

const SERIES = [
  { key: 'tracked', label: 'tracked on this page', color: '#0969da' },
  { key: 'sent', label: 'delivered from this page', color: '#1a7f37' },
  { key: 'held', label: 'held by this page (pending, in flight, unconfirmed)', color: '#bf8700' },
  { key: 'stored', label: 'stored by the collector (all pages)', color: '#8250df' },
];
const chart = createChart($('chart'), SERIES);
$('legend').replaceChildren(
  ...SERIES.map(({ label, color }) => {
    const li = document.createElement('li');
    li.style.setProperty('--color', color);
    li.textContent = label;
    return li;
  }),
);

const METRICS = ['anonymousId', 'userId', 'sessionId', 'optedOut', 'storage', 'pending', 'inFlight', 'unconfirmed', 'eventsTracked', 'eventsRestored', 'eventsSent', 'eventsConfirmed', 'eventsResent', 'droppedOverflow', 'droppedRejected', 'droppedTooLarge', 'droppedExpired', 'batchesSent', 'batchesFailed', 'retries', 'circuitState', 'nextRetryAt', 'online', 'authPaused', 'lastError'];
let stored = 0;

async function refresh() {
  const m = analytics.metrics();
  rows($('metrics'), METRICS.map((name) => [name, name === 'nextRetryAt' && m[name] ? `in ${Math.max(0, m[name] - Date.now())} ms` : m[name]]));
  try {
    const collector = await (await fetch('/api/collector')).json();
    stored = collector.stored;
    $('collector-state').textContent = collector.up ? 'The collector is up' : 'The collector is stopped';
    $('collector-state').className = `state ${collector.up ? 'up' : 'down'}`;
    rows($('collector-stats'), [['events stored', collector.stored], ['copies dropped', collector.duplicates]]);
    items($('collector-events'), collector.latest.map((e) => `${e.type} ${e.name} ${e.properties ?? ''}`));
  } catch {
    $('collector-state').textContent = 'The demo server does not answer';
    $('collector-state').className = 'state down';
  }
  items($('errors'), errors);
  chart.add(Date.now(), {
    tracked: m.eventsTracked + m.eventsRestored,
    sent: m.eventsSent + m.eventsConfirmed,
    held: m.pending + m.inFlight + (m.unconfirmed ?? 0),
    stored,
  });
  chart.draw();
}
setInterval(refresh, 500);
refresh();
