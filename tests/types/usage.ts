// A TypeScript user's code against the published declarations (pkg/index.d.ts).
// `tsc --noEmit` must accept this file, and reject misuse marked below.
import { createAnalytics, type Analytics, type Plugin, type Metrics, type FlushResult, type EventOutcome, type Outcome } from 'analytics-wasm';

const analytics: Analytics = createAnalytics({
  endpoint: '/v1/batch',
  writeKey: 'wk',
  storage: 'auto',
  compression: 'gzip',
  flushAt: 20,
  sessionTimeoutMs: 1_800_000,
  cookieDomain: 'example.com',
  anonymousIdCookie: 'ajs_anonymous_id',
  optOutByDefault: true,
  respectPrivacySignals: true,
  debug: false,
});

analytics.track('Signed Up', { plan: 'pro', seats: 3 });
// analytics.js's forms: per-call options, a callback in any trailing position, and what each call returns.
const heard = (outcome: EventOutcome) => console.log(outcome.status, outcome.reason, outcome.messageId);
analytics.track('Backfilled', { a: 1 }, { timestamp: new Date(0), messageId: 'm-1', context: { app: { name: 'shop' } }, integrations: { All: false } });
analytics.track('Called Back', { a: 1 }, heard);
analytics.track('Called Back Too', heard);
analytics.track('Options Then Callback', {}, { userId: 'u-2', anonymousId: 7, timestamp: '2026-01-01T00:00:00Z' }, heard);
const outcome: Outcome = analytics.track('Awaited');
const settled: Promise<EventOutcome> = (async () => await outcome)();
void settled;
analytics.page('Docs', 'Install', { version: 2 }, { integrations: {} }, heard);
analytics.page('Docs', 'Install', heard);
analytics.page({ path: '/x' });
analytics.page(heard);
analytics.identify('user-3', { plan: 'pro' }, { timestamp: new Date() }, heard);
analytics.identify({ plan: 'free' }, heard);
analytics.identify('user-4', heard);
analytics.group('acme', { size: 10 }, heard);
analytics.alias('user-5', 'anon-1', {}, heard);
analytics.alias('user-5', { context: {} });
analytics.alias('user-5', heard);
analytics.track('Order Completed', { total: 9 }, { priority: 'high' });
// @ts-expect-error: priority is high or normal
analytics.track('Urgent', {}, { priority: 'urgent' });
// @ts-expect-error: a timestamp is a Date or a string
analytics.track('Bad Timestamp', {}, { timestamp: 5 });
// @ts-expect-error: messageId is a string
analytics.track('Bad Id', {}, { messageId: 5 });

// A tracking plan: event names and their properties are checked.
type Plan = { 'Order Completed': { orderId: string; total: number }; 'Cart Viewed': { items?: number } };
const typed = createAnalytics<Plan>({ endpoint: '/v1/batch' });
typed.track('Order Completed', { orderId: 'o-1', total: 9.5 });
typed.track('Order Completed', { orderId: 'o-1', total: 9.5 }, heard);
typed.track('Cart Viewed');
typed.track('Cart Viewed', { items: 2 }, { messageId: 'c-1' });
// @ts-expect-error: not in the plan
typed.track('Order Complete', { orderId: 'o-1', total: 9.5 });
// @ts-expect-error: total is a number
typed.track('Order Completed', { orderId: 'o-1', total: '9.5' });
// @ts-expect-error: its properties are required
typed.track('Order Completed');
typed.use({ name: 'noop', beforeSend() {} }).track('Cart Viewed');
analytics.identify('user-1', { email: 'a@example.com' });
analytics.identify({ anonymousTrait: true });
analytics.page();
analytics.page('Pricing', { path: '/pricing' });
analytics.group('acme', { size: 10 });
analytics.alias('user-2');
analytics.register({ appVersion: '2.1' });
analytics.registerOnce({ firstSeen: '2026-12-01' });
analytics.unregister('appVersion');
analytics.reset();
const user: { userId: string | null; anonymousId: string | null } = analytics.user();
void user;

const scrub: Plugin = {
  name: 'scrub',
  beforeSend(event) {
    if (event.type === 'track' && event.properties) delete event.properties.email;
    event.context.page.title = 'hidden';
    return event.event === 'Internal' ? null : event;
  },
};
analytics.use(scrub).use({ name: 'noop', beforeSend() {} });

const off = analytics.on('error', (error) => console.warn(error.type, error.message));
off();

async function lifecycle(): Promise<void> {
  await analytics.ready;
  const result: FlushResult = await analytics.flush();
  const metrics: Metrics = analytics.metrics();
  const session: number | null = metrics.sessionId;
  void result;
  void session;
  await analytics.optOut();
  analytics.optIn();
  await analytics.shutdown();
}
void lifecycle;

// @ts-expect-error: endpoint is required
createAnalytics({});
// @ts-expect-error: storage takes one of four names
createAnalytics({ endpoint: '/v1/batch', storage: 'cookies' });
// @ts-expect-error: flushAt is a number
createAnalytics({ endpoint: '/v1/batch', flushAt: '20' });
// @ts-expect-error: only 'error' can be listened to
analytics.on('sent', () => {});
