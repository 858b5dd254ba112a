// The demo: imports the package by name, exactly as a user's app would.
import { createAnalytics } from 'analytics-wasm';

const collectorUrl = import.meta.env.VITE_COLLECTOR_URL ?? 'http://127.0.0.1:8787';
const analytics = createAnalytics({ endpoint: `${collectorUrl}/v1/batch` });
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

const fault = (body) =>
  fetch(`${collectorUrl}/control/fault`, { method: 'POST', body: JSON.stringify(body) }).catch(() => {});
$('collector-down').onclick = () => fault({ down: true });
$('collector-503').onclick = () => fault({ status: 503 });
$('collector-429').onclick = () => fault({ status: 429, retryAfter: 5 });
$('collector-up').onclick = () => fault({});
$('collector-reset').onclick = () => fetch(`${collectorUrl}/control/reset`, { method: 'POST' }).catch(() => {});

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

const METRICS = ['anonymousId', 'userId', 'sessionId', 'optedOut', 'storage', 'pending', 'inFlight', 'eventsTracked', 'eventsRestored', 'eventsSent', 'droppedOverflow', 'droppedRejected', 'droppedTooLarge', 'droppedExpired', 'batchesSent', 'batchesFailed', 'retries', 'circuitState', 'nextRetryAt', 'online', 'authPaused', 'lastError'];

async function refresh() {
  const m = analytics.metrics();
  rows($('metrics'), METRICS.map((name) => [name, name === 'nextRetryAt' && m[name] ? `in ${Math.max(0, m[name] - Date.now())} ms` : m[name]]));
  try {
    const stats = await (await fetch(`${collectorUrl}/v1/stats`)).json();
    const down = stats.fault?.down || stats.fault?.drop;
    const state = down ? 'down' : stats.fault?.status ? `answering ${stats.fault.status}` : 'up';
    $('collector-state').textContent = `Collector is ${state}`;
    $('collector-state').className = `state ${state === 'up' ? 'up' : 'down'}`;
    rows($('collector-stats'), [['received (unique)', stats.received], ['duplicates', stats.duplicates], ['requests', stats.requests], ['refused by fault', stats.refused], ['rejected events', stats.rejected], ['bytes', stats.bytes]]);
    const { events } = await (await fetch(`${collectorUrl}/v1/events?last=20`)).json();
    items($('collector-events'), events.map((e) => `${e.type} ${e.event ?? e.name ?? ''} ${JSON.stringify(e.properties ?? e.traits ?? {})}`));
  } catch {
    $('collector-state').textContent = 'Collector unreachable';
    $('collector-state').className = 'state down';
  }
  items($('errors'), errors);
}
setInterval(refresh, 300);
refresh();
