// A TypeScript user's code against the published declarations (pkg/index.d.ts).
// `tsc --noEmit` must accept this file, and reject misuse marked below.
import { createAnalytics, type Analytics, type Plugin, type Metrics, type FlushResult } from 'analytics-wasm';

const analytics: Analytics = createAnalytics({
  endpoint: '/v1/batch',
  writeKey: 'wk',
  storage: 'auto',
  compression: 'gzip',
  flushAt: 20,
  sessionTimeoutMs: 1_800_000,
  cookieDomain: 'example.com',
  optOutByDefault: true,
  respectPrivacySignals: true,
  debug: false,
});

analytics.track('Signed Up', { plan: 'pro', seats: 3 });
analytics.identify('user-1', { email: 'a@example.com' });
analytics.identify({ anonymousTrait: true });
analytics.page();
analytics.page('Pricing', { path: '/pricing' });
analytics.group('acme', { size: 10 });
analytics.alias('user-2');
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
