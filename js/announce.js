// Tabs telling each other things over a BroadcastChannel. Their
// partitions: a live tab learns of every tab of the origin that opens after
// it (and a new tab of those already open) and can adopt its events the
// moment it goes away; messages are `hello <partition>` from a tab that
// just started and `here <partition>` in answer. And what a request found
// of a collector, `failed <endpoint>` or `recovered <endpoint>`, so that
// tabs wait out an outage together and resume together. The channel never
// carries events.

/**
 * Joins channel `name`; `onAnnouncement(kind, value)` hears 'hello' and
 * 'here' (a partition), 'failed' and 'recovered' (an endpoint). Null
 * without BroadcastChannel.
 */
export function openAnnouncer(name, onAnnouncement) {
  if (typeof BroadcastChannel !== 'function') return null;
  const channel = new BroadcastChannel(name);
  channel.onmessage = (event) => {
    const match = typeof event.data === 'string' && /^(?:(hello|here) ([\w-]{1,64})|(failed|recovered) (\S{1,2048}))$/.exec(event.data);
    if (match) onAnnouncement(match[1] ?? match[3], match[2] ?? match[4]);
  };
  const say = (kind) => (value) => channel.postMessage(`${kind} ${value}`);
  return { hello: say('hello'), here: say('here'), failed: say('failed'), recovered: say('recovered'), close: () => channel.close() };
}
