// The shell's leaves on their own, in a real browser page: storage
// (IndexedDB, localStorage, the hidden-page spill, failures), tabs (Web
// Locks, the lease) and transport (what each collector answer becomes).
// Each test imports the leaf from the built package into a blank page and
// checks what it returns; nothing of the recorder runs. Chromium, where the
// old Rust browser tests of the same leaves ran.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness } from './harness.mjs';

let h;
let context;

before(async () => {
  h = await startHarness({ browserName: 'chromium' });
});
after(async () => {
  await context?.close();
  await h?.close();
});

/** A blank page in a fresh context (own storage), with `setup` run before anything else. */
async function blankPage(setup) {
  await context?.close();
  context = await h.browser.newContext();
  if (setup) await context.addInitScript(setup);
  const page = await context.newPage();
  await page.goto(`${h.site.url}/blank.html`);
  return page;
}

const event = (n) => ({ id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, at: 1_700_000_000_000 + n, json: `{"messageId":"00000000-0000-4000-8000-${String(n).padStart(12, '0')}","n":${n}}` });

// --- storage ----------------------------------------------------------------

test('IndexedDB: another page load reads a partition in write order and deletes it', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async (events) => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage: first } = await openStorage('auto', 'ns', 'p1');
    await first.write(events.slice(0, 2), false);
    await first.write(events.slice(2), false);
    await first.delete([events[1].id]);
    const { storage: second } = await openStorage('auto', 'ns', 'p2');
    const others = await second.others();
    const read = await second.read('p1');
    await second.deletePartition('p1');
    return { kind: second.kind, others, ids: read.events.map((e) => e.id), ats: read.events.map((e) => e.at), corrupt: read.corrupt, after: await second.others() };
  }, [event(1), event(2), event(3), event(4)]);
  assert.equal(result.kind, 'indexeddb');
  assert.deepEqual(result.others, ['p1']);
  assert.deepEqual(result.ids, [event(1).id, event(3).id, event(4).id]);
  assert.deepEqual(result.ats, [event(1).at, event(3).at, event(4).at]);
  assert.equal(result.corrupt, 0);
  assert.deepEqual(result.after, []);
});

test('IndexedDB: adopting a partition moves its events under this one and deletes it, spill and all', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async (events) => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage: closed } = await openStorage('auto', 'ns', 'p1');
    await closed.write(events.slice(0, 2), false);
    await closed.write(events.slice(2), true);
    const { storage: adopter } = await openStorage('auto', 'ns', 'p2');
    const { events: orphaned } = await adopter.read('p1');
    await adopter.adopt('p1', orphaned);
    // One an adopter sends is forgotten where it now is.
    await adopter.delete([events[0].id]);
    const { storage: next } = await openStorage('auto', 'ns', 'p3');
    const read = await next.read('p2');
    return { others: await next.others(), ids: read.events.map((e) => e.id), ats: read.events.map((e) => e.at), local: Object.keys(localStorage).filter((k) => k.startsWith('ns:p1:')).length };
  }, [event(1), event(2), event(3)]);
  assert.deepEqual(result.others, ['p2'], 'p1 is gone');
  assert.deepEqual(result.ids, [event(2).id, event(3).id]);
  assert.deepEqual(result.ats, [event(2).at, event(3).at]);
  assert.equal(result.local, 0, 'the spill of p1 is deleted with it');
});

test('IndexedDB: a move that fails leaves the adopted partition as it was', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async (events) => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage: closed } = await openStorage('auto', 'ns', 'p1');
    await closed.write(events, false);
    const { storage: adopter } = await openStorage('auto', 'ns', 'p2');
    const { events: orphaned } = await adopter.read('p1');
    // The deletion fails once the copy's puts are queued in the transaction.
    const deleteOne = IDBObjectStore.prototype.delete;
    IDBObjectStore.prototype.delete = function (key) {
      if (key instanceof IDBKeyRange) throw new DOMException('refused', 'DataError');
      return deleteOne.call(this, key);
    };
    const failed = await adopter.adopt('p1', orphaned).then(() => 'committed', (error) => error.name);
    IDBObjectStore.prototype.delete = deleteOne;
    const { storage: next } = await openStorage('auto', 'ns', 'p3');
    return { failed, others: await next.others(), ids: (await next.read('p1')).events.map((e) => e.id) };
  }, [event(1), event(2)]);
  assert.equal(result.failed, 'DataError');
  assert.deepEqual(result.others, ['p1'], 'no copy under p2');
  assert.deepEqual(result.ids, [event(1).id, event(2).id]);
});

test('localStorage: adopting a partition moves its events under this one', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async (events) => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage: closed } = await openStorage('localstorage', 'ns', 'p1');
    await closed.write(events, false);
    const { storage: adopter } = await openStorage('localstorage', 'ns', 'p2');
    await adopter.adopt('p1', (await adopter.read('p1')).events);
    const { storage: next } = await openStorage('localstorage', 'ns', 'p3');
    return { others: await next.others(), ids: (await next.read('p2')).events.map((e) => e.id) };
  }, [event(1), event(2)]);
  assert.deepEqual(result.others, ['p2']);
  assert.deepEqual(result.ids, [event(1).id, event(2).id]);
});

test('IndexedDB: a persist of many events is one record', async () => {
  const page = await blankPage();
  const records = await page.evaluate(async (events) => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage } = await openStorage('auto', 'ns', 'p1');
    await storage.write(events, false);
    const db = await new Promise((resolve) => {
      const request = indexedDB.open('ns');
      request.onsuccess = () => resolve(request.result);
    });
    const keys = await new Promise((resolve) => {
      const request = db.transaction('events').objectStore('events').getAllKeys();
      request.onsuccess = () => resolve(request.result);
    });
    db.close();
    return keys;
  }, Array.from({ length: 100 }, (_, i) => event(i + 1)));
  assert.deepEqual(records, ['p1/c0']);
});

test('localStorage: partitions round-trip their events', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async (events) => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage: first } = await openStorage('localstorage', 'ns', 'p1');
    first.write(events, false);
    first.delete([events[0].id]);
    const { storage: second } = await openStorage('localstorage', 'ns', 'p2');
    const read = await second.read('p1');
    await second.deletePartition('p1');
    return { kind: first.kind, ids: read.events.map((e) => e.id), json: read.events[0].json, left: Object.keys(localStorage).filter((k) => k.startsWith('ns:')) };
  }, [event(1), event(2), event(3)]);
  assert.equal(result.kind, 'localstorage');
  assert.deepEqual(result.ids, [event(2).id, event(3).id]);
  assert.equal(result.json, event(2).json);
  assert.deepEqual(result.left, []);
});

test('corrupt records are counted, and the good ones around them still read', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async (events) => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage: first } = await openStorage('localstorage', 'ns', 'p1');
    first.write(events, false);
    localStorage.setItem('ns:p1:e:broken', 'not a record');
    localStorage.setItem(`ns:p1:e:${events[0].id}`, `1\t${events[0].id}\t5\t{"messageId":"someone else"}`);
    const { storage: second } = await openStorage('localstorage', 'ns', 'p2');
    const read = await second.read('p1');
    return { ids: read.events.map((e) => e.id), corrupt: read.corrupt };
  }, [event(1), event(2)]);
  assert.deepEqual(result.ids, [event(2).id]);
  assert.equal(result.corrupt, 2, 'a record that is no event, and one whose JSON names another id');
});

test('writes while the page hides are spilled to localStorage and read with the partition', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async (events) => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage } = await openStorage('auto', 'ns', 'p1');
    // The IndexedDB write is never awaited: the page may be gone first.
    storage.write(events, true);
    const spill = Object.keys(localStorage).filter((k) => k.startsWith('ns:p1:s:'));
    const { storage: second } = await openStorage('auto', 'ns', 'p2');
    const read = await second.read('p1');
    return { kind: storage.kind, spill: spill.length, ids: read.events.map((e) => e.id) };
  }, [event(1), event(2)]);
  assert.equal(result.kind, 'indexeddb');
  assert.equal(result.spill, 2);
  assert.deepEqual(result.ids, [event(1).id, event(2).id], 'each once, though both copies are there');
});

test('a forgotten event leaves the spill too', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async (events) => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage } = await openStorage('auto', 'ns', 'p1');
    await storage.write(events, true);
    await storage.delete([events[0].id]);
    const { storage: second } = await openStorage('auto', 'ns', 'p2');
    const read = await second.read('p1');
    return { spill: Object.keys(localStorage).filter((k) => k.startsWith('ns:p1:s:')).length, ids: read.events.map((e) => e.id) };
  }, [event(1), event(2)]);
  assert.equal(result.spill, 1);
  assert.deepEqual(result.ids, [event(2).id]);
});

test('a write to a closed IndexedDB database is reported as a value, never thrown', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async (events) => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage } = await openStorage('auto', 'ns', 'p1');
    storage.close();
    try {
      const write = storage.write(events, false);
      return { error: write?.error?.name ?? null };
    } catch (error) {
      return { thrown: String(error) };
    }
  }, [event(1)]);
  assert.deepEqual(result, { error: 'InvalidStateError' });
});

// --- storage failures -----------------------------------------------------------

test('storage falls back to localStorage when IndexedDB cannot open, saying why', async () => {
  const page = await blankPage(() => {
    indexedDB.open = () => {
      throw new DOMException('blocked by policy', 'SecurityError');
    };
  });
  const result = await page.evaluate(async () => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage, problems } = await openStorage('auto', 'ns', 'p1');
    return { kind: storage.kind, problems };
  });
  assert.equal(result.kind, 'localstorage');
  assert.deepEqual(result.problems, ['IndexedDB unavailable: SecurityError: blocked by policy']);
});

test('storage falls back to memory when neither IndexedDB nor localStorage works', async () => {
  const page = await blankPage(() => {
    indexedDB.open = () => {
      throw new DOMException('blocked', 'SecurityError');
    };
    Storage.prototype.setItem = () => {
      throw new DOMException('blocked', 'SecurityError');
    };
  });
  const result = await page.evaluate(async () => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage, problems } = await openStorage('auto', 'ns', 'p1');
    const write = storage.write([{ id: 'a', at: 1, json: '{}' }], false);
    return { kind: storage.kind, problems, write, others: await storage.others() };
  });
  assert.equal(result.kind, 'memory');
  assert.equal(result.problems.length, 2);
  assert.match(result.problems[1], /^localStorage unavailable: SecurityError/);
  assert.equal(result.write, null, 'a write to memory is done at once');
  assert.deepEqual(result.others, []);
});

test('a full localStorage is reported as the write\'s error, not thrown', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async () => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage } = await openStorage('localstorage', 'ns', 'p1');
    Storage.prototype.setItem = () => {
      throw new DOMException('the quota has been exceeded', 'QuotaExceededError');
    };
    try {
      return { error: storage.write([{ id: 'a', at: 1, json: '{}' }], false)?.error?.name ?? null };
    } catch (error) {
      return { thrown: String(error) };
    }
  });
  assert.deepEqual(result, { error: 'QuotaExceededError' });
});

test('an IndexedDB transaction that fails is a rejected write, and the next write still works', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async (events) => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage } = await openStorage('auto', 'ns', 'p1');
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function () {
      throw new DOMException('the quota has been exceeded', 'QuotaExceededError');
    };
    const failed = storage.write([events[0]], false);
    IDBObjectStore.prototype.put = put;
    await storage.write([events[1]], false);
    const { storage: second } = await openStorage('auto', 'ns', 'p2');
    const read = await second.read('p1');
    return { failed: failed?.error?.name ?? null, ids: read.events.map((e) => e.id) };
  }, [event(1), event(2)]);
  assert.equal(result.failed, 'QuotaExceededError');
  assert.deepEqual(result.ids, [event(2).id]);
});

// --- the recorder's worker: IndexedDB writes off the page's thread -----------------

/** Events of about 1 KB each, so that 100 of them are a write the worker takes. */
const bigEvent = (n) => ({ ...event(n), json: event(n).json.replace('}', `,"pad":"${'x'.repeat(1000)}"}`) });

/** Counts the IndexedDB puts and deletes made on the page's own thread. */
const countPagePuts = () => {
  window.pagePuts = 0;
  for (const method of ['put', 'delete']) {
    const original = IDBObjectStore.prototype[method];
    IDBObjectStore.prototype[method] = function (...args) {
      window.pagePuts++;
      return original.apply(this, args);
    };
  }
};

test('worker: a large write, and every write after it, commits from the worker, in order', async () => {
  const page = await blankPage(countPagePuts);
  const result = await page.evaluate(async (events) => {
    const { openStorage } = await import('/pkg/storage.js');
    const { workerJobs } = await import('/pkg/worker.js');
    const { storage } = await openStorage('auto', 'ns', 'p1');
    storage.offload(workerJobs('/pkg/analytics-recorder.js'));
    const small = storage.write(events.slice(0, 1), false);
    await small;
    const onPageBefore = window.pagePuts;
    // Not awaited: the delete is made before the write commits, and must commit after it.
    storage.write(events.slice(1), false);
    await storage.delete([events[1].id, events[2].id]);
    const onPage = window.pagePuts - onPageBefore;
    const { storage: next } = await openStorage('auto', 'ns', 'p2');
    return { onPageBefore, onPage, ids: (await next.read('p1')).events.map((e) => e.id) };
  }, Array.from({ length: 101 }, (_, i) => bigEvent(i + 1)));
  assert.equal(result.onPageBefore, 1, 'a small write stays on the page');
  assert.equal(result.onPage, 0, 'the large write and the delete after it went to the worker');
  assert.deepEqual(result.ids, [bigEvent(1).id, ...Array.from({ length: 98 }, (_, i) => bigEvent(i + 4).id)]);
});

test('worker: where the worker cannot start, its writes commit from the page', async () => {
  const page = await blankPage(countPagePuts);
  const result = await page.evaluate(async (events) => {
    const { openStorage } = await import('/pkg/storage.js');
    const { workerJobs } = await import('/pkg/worker.js');
    const { storage } = await openStorage('auto', 'ns', 'p1');
    const jobs = workerJobs('/pkg/no-such-script.js');
    storage.offload(jobs);
    await storage.write(events, false);
    const { storage: next } = await openStorage('auto', 'ns', 'p2');
    return { usable: jobs.usable, onPage: window.pagePuts, read: (await next.read('p1')).events.length };
  }, Array.from({ length: 100 }, (_, i) => bigEvent(i + 1)));
  assert.deepEqual(result, { usable: false, onPage: 1, read: 100 });
});

test("worker: a write the worker fails is the write's error, and later writes commit from the page", async () => {
  const page = await blankPage(countPagePuts);
  const result = await page.evaluate(async (events) => {
    const { openStorage } = await import('/pkg/storage.js');
    const { storage } = await openStorage('auto', 'ns', 'p1');
    storage.offload({ usable: true, fromSize: 1, run: async () => 'QuotaExceededError: the quota has been exceeded' });
    const failed = await storage.write(events.slice(0, 1), false).then(() => 'committed', (error) => error.message);
    await storage.write(events.slice(1), false);
    const { storage: next } = await openStorage('auto', 'ns', 'p2');
    return { failed, onPage: window.pagePuts, ids: (await next.read('p1')).events.map((e) => e.id) };
  }, [event(1), event(2)]);
  assert.deepEqual(result, { failed: 'QuotaExceededError: the quota has been exceeded', onPage: 1, ids: [event(2).id] });
});

test('worker: when the worker fails, each job it held runs on the page, and one that throws there rejects only itself', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async () => {
    const { workerJobs } = await import('/pkg/worker.js');
    // A script that starts, takes the jobs, never answers, and then fails.
    const url = URL.createObjectURL(new Blob(['onmessage = (e) => { if (e.data[1] === "fail") setTimeout(() => { throw new Error("worker failed"); }); };'], { type: 'text/javascript' }));
    const jobs = workerJobs(url);
    const first = jobs.run('hold', [], () => {
      throw new Error('cannot run here');
    });
    const second = jobs.run('fail', [], () => 'ran here');
    const never = (job) => Promise.race([job, new Promise((resolve) => setTimeout(() => resolve('never answered'), 5000))]);
    return {
      first: await never(first.then(() => 'resolved', (error) => error.message)),
      second: await never(second),
      usable: jobs.usable,
    };
  });
  assert.deepEqual(result, { first: 'cannot run here', second: 'ran here', usable: false });
});

test('worker: writeByName resolves to the failure it met, never rejecting', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async () => {
    const { writeByName } = await import('/pkg/storage.js');
    const ok = await writeByName('ns', 'p1/', { puts: [['c0', 'record']], deletes: [] });
    const failed = await writeByName('ns', 'p1/', { puts: null, deletes: [] }).catch(() => 'rejected');
    return { ok, failed: typeof failed === 'string' && failed.startsWith('TypeError') };
  });
  assert.deepEqual(result, { ok: '', failed: true });
});

// --- tabs -----------------------------------------------------------------------

test('a held Web Lock cannot be taken if-available until it is released', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async () => {
    const { requestLock } = await import('/pkg/tabs.js');
    const held = requestLock('ns:p1', false);
    const first = await held.granted;
    const whileHeld = await requestLock('ns:p1', true).granted;
    held.release();
    // The browser lets go once the callback's promise settles, a task later.
    while ((await navigator.locks.query()).held.some((lock) => lock.name === 'ns:p1')) await new Promise((r) => setTimeout(r, 5));
    const taker = requestLock('ns:p1', true);
    const afterRelease = await taker.granted;
    taker.release();
    return { first, whileHeld, afterRelease };
  });
  assert.deepEqual(result, { first: true, whileHeld: false, afterRelease: true });
});

test('a waiting lock request is granted when the holder lets go', async () => {
  const page = await blankPage();
  const order = await page.evaluate(async () => {
    const { requestLock } = await import('/pkg/tabs.js');
    const seen = [];
    const holder = requestLock('ns:p1', false);
    await holder.granted;
    const waiter = requestLock('ns:p1', false);
    waiter.granted.then((granted) => seen.push(`waiter ${granted}`));
    await new Promise((r) => setTimeout(r, 50));
    seen.push('release');
    holder.release();
    await waiter.granted;
    waiter.release();
    return seen;
  });
  assert.deepEqual(order, ['release', 'waiter true']);
});

test('a lease expires without renewal, and of two claims only one holds', async () => {
  const page = await blankPage();
  const result = await page.evaluate(async () => {
    const { Lease, LEASE_EXPIRY_MS } = await import('/pkg/tabs.js');
    const lease = new Lease(localStorage, 'ns');
    const t = 1_000_000;
    lease.renew('p1', t);
    const freshClaim = await lease.claim('p1', 'me', t + 1000);
    const expired = lease.expired('p1', t + LEASE_EXPIRY_MS + 1);
    const claims = await Promise.all([lease.claim('p1', 'a', t + LEASE_EXPIRY_MS + 1), lease.claim('p1', 'b', t + LEASE_EXPIRY_MS + 1)]);
    const claimedAgain = await lease.claim('p1', 'c', t + LEASE_EXPIRY_MS + 2);
    lease.release('p1');
    return { freshClaim, expired, claims, claimedAgain, left: Object.keys(localStorage).filter((k) => k.startsWith('ns:')) };
  });
  assert.equal(result.freshClaim, false, 'a live tab\'s partition is not claimed');
  assert.equal(result.expired, true);
  assert.deepEqual(result.claims.filter(Boolean).length, 1);
  assert.equal(result.claimedAgain, false, 'a fresh claim counts as a lease');
  assert.deepEqual(result.left, []);
});

// --- transport ------------------------------------------------------------------

const body = (ids) => JSON.stringify({ batch: ids.map((id) => ({ type: 'track', event: id.startsWith('bad') ? 'Refused' : 'Ok', messageId: id, anonymousId: 'a', timestamp: new Date(0).toISOString(), properties: {} })), sentAt: new Date(0).toISOString() });
const uuid = (n) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

/** What `send` resolves to for `text`, POSTed cross-origin to the collector with `fault`. */
async function sendWith(fault, text, options = {}) {
  const page = await blankPage();
  const endpoint = `${h.collector.endpoint}?fault=${encodeURIComponent(JSON.stringify(fault))}`;
  return page.evaluate(
    async ([endpoint, text, options]) => {
      const { send } = await import('/pkg/transport.js');
      return send(endpoint, text, { timeoutMs: 5000, ...options });
    },
    [endpoint, text, options],
  );
}

test('transport: a per-event rejection body reaches the caller, and readRejections names the events', async () => {
  h.collector.reset();
  const text = body([uuid(1), uuid(2)]).replace(`"Ok","messageId":"${uuid(2)}"`, `"Refused","messageId":"${uuid(2)}"`);
  const result = await sendWith({ rejectEvents: ['Refused'] }, text);
  assert.equal(result.status, 200);
  const page = await blankPage();
  const rejected = await page.evaluate(async (responseText) => (await import('/pkg/transport.js')).readRejections(responseText), result.text);
  assert.deepEqual(rejected, [[uuid(2), 'event name "Refused" is refused']]);
});

test('transport: Retry-After is readable cross-origin', async () => {
  const result = await sendWith({ status: 429, retryAfter: 7 }, body([uuid(1)]));
  assert.equal(result.status, 429);
  assert.equal(result.retryAfter, '7');
  const page = await blankPage();
  const parsed = await page.evaluate(async () => {
    const { readRetryAfter } = await import('/pkg/transport.js');
    return [readRetryAfter('7'), readRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT'), readRetryAfter('soon'), readRetryAfter(null)];
  });
  assert.deepEqual(parsed, [[1, 7], [2, Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')], [0, 0], [0, 0]]);
});

test('transport: a server error comes back as its status', async () => {
  assert.equal((await sendWith({ status: 503 }, body([uuid(1)]))).status, 503);
});

test('transport: an auth failure comes back as its status', async () => {
  assert.equal((await sendWith({ status: 401 }, body([uuid(1)]))).status, 401);
});

test('transport: a dropped connection is a network error', async () => {
  assert.equal(await sendWith({ drop: true }, body([uuid(1)])), 'network');
});

test('transport: a collector slower than the timeout is a timeout', async () => {
  assert.equal(await sendWith({ delayMs: 3000 }, body([uuid(1)]), { timeoutMs: 300 }), 'timeout');
});

test('transport: a beacon is queued', async () => {
  h.collector.reset();
  const page = await blankPage();
  const queued = await page.evaluate(async ([endpoint, text]) => (await import('/pkg/transport.js')).beacon(endpoint, text), [h.collector.endpoint, body([uuid(3)])]);
  assert.equal(queued, true);
  const deadline = Date.now() + 15_000;
  while (h.collector.stats().received < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.equal(h.collector.stats().received, 1);
});

test('transport: a gzipped body is declared as such and accepted by the collector', async () => {
  h.collector.reset();
  const ids = Array.from({ length: 30 }, (_, i) => uuid(100 + i));
  const result = await sendWith({}, body(ids), { compress: true });
  assert.equal(result.status, 200);
  assert.equal(h.collector.stats().received, 30);
  const [request] = h.collector.requests();
  assert.equal(request.encoding, 'gzip');
  assert.ok(request.bytes < body(ids).length / 3, `compressed to ${request.bytes} of ${body(ids).length} bytes`);
});
