// Tabs telling each other their partitions over a BroadcastChannel, so a
// live tab learns of every tab of the origin that opens after it (and a new
// tab of those already open) and can adopt its events the moment it goes
// away. Messages are `hello <partition>` from a tab that just started and
// `here <partition>` in answer; the channel never carries events.

/** Joins channel `name`; `onAnnouncement(kind, partition)` hears 'hello' and 'here'. Null without BroadcastChannel. */
export function openAnnouncer(name, onAnnouncement) {
  if (typeof BroadcastChannel !== 'function') return null;
  const channel = new BroadcastChannel(name);
  channel.onmessage = (event) => {
    const match = typeof event.data === 'string' && /^(hello|here) ([\w-]{1,64})$/.exec(event.data);
    if (match) onAnnouncement(match[1], match[2]);
  };
  return {
    hello: (partition) => channel.postMessage(`hello ${partition}`),
    here: (partition) => channel.postMessage(`here ${partition}`),
    close: () => channel.close(),
  };
}
