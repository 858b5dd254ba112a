'use client';
import { useEffect } from 'react';
import { createAnalytics } from 'analytics-wasm';

let analytics = null;
function client() {
  const endpoint = new URLSearchParams(location.search).get('endpoint');
  analytics ??= createAnalytics({ endpoint, writeKey: 'consumer-next' });
  window.analytics = analytics;
  return analytics;
}

export function Shop() {
  useEffect(() => {
    client().page('Shop', { path: location.pathname });
  }, []);
  return (
    <button
      id="buy"
      onClick={() => {
        client().track('Order Completed', { orderId: 'o-3', total: 7 });
        client().flush();
      }}
    >
      Buy
    </button>
  );
}
