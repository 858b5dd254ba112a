// WebKit (what Safari is built on) through WebKitGTK's WebKitWebDriver: W3C WebDriver
// over plain HTTP, driving the MiniBrowser under a private Xvfb display.
//
// It implements the part of Playwright's API the tests shared by every browser use
// (see ./index.mjs). One WebKitWebDriver serves one session, and a session
// is one MiniBrowser with its own ephemeral storage: so a context is one
// driver process and one session, and its pages are windows of it.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';

export const WEBKIT_DRIVER = process.env.WEBKIT_DRIVER_PATH ?? '/usr/bin/WebKitWebDriver';
export const MINIBROWSER = process.env.MINIBROWSER_PATH ?? '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every 25 ms until it is true; throws naming `what` after `timeoutMs`. */
async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`webkit: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Starts Xvfb on the first free display from :90; resolves to { display, stop }. */
async function startXvfb() {
  for (let number = 90; number < 190; number++) {
    if (existsSync(`/tmp/.X${number}-lock`) || existsSync(`/tmp/.X11-unix/X${number}`)) continue;
    const child = spawn('Xvfb', [`:${number}`, '-nolisten', 'tcp', '-screen', '0', '1280x1024x24'], { stdio: 'ignore' });
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    try {
      await until(() => exited || existsSync(`/tmp/.X11-unix/X${number}`), 10_000, `Xvfb :${number}`);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    if (exited) continue; // Lost a race for this display: try the next.
    return {
      display: `:${number}`,
      stop: () =>
        new Promise((resolve) => {
          if (exited) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    };
  }
  throw new Error('webkit: no free X display between :90 and :189');
}

/** One WebDriver session: commands run one at a time, each in the window it names. */
class Session {
  #base;
  #id;
  #driver;
  #queue = Promise.resolve();
  #current = null;
  /** The session's first window: never closed, so the session outlives its pages. */
  anchor = null;

  static async start(display) {
    const port = await freePort();
    const driver = spawn(WEBKIT_DRIVER, [`--port=${port}`, '--host=127.0.0.1'], {
      env: { ...process.env, DISPLAY: display },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    driver.stderr.on('data', () => {});
    const base = `http://127.0.0.1:${port}`;
    await until(
      async () => {
        try {
          return (await fetch(`${base}/status`)).ok;
        } catch {
          return false;
        }
      },
      20_000,
      'WebKitWebDriver to listen',
    );
    const session = new Session(base, driver);
    const created = await session.#http('POST', '/session', {
      capabilities: { alwaysMatch: { 'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] } } },
    });
    session.#id = created.sessionId;
    await session.#http('POST', `/session/${session.#id}/timeouts`, { script: 300_000, pageLoad: 60_000 });
    session.#current = await session.#http('GET', `/session/${session.#id}/window`);
    session.anchor = session.#current;
    return session;
  }

  constructor(base, driver) {
    this.#base = base;
    this.#driver = driver;
  }

  async #http(method, path, body) {
    const response = await fetch(this.#base + path, {
      method,
      headers: { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const answer = await response.json();
    if (answer.value?.error && answer.value.ok === undefined) throw new Error(`webkit ${method} ${path}: ${answer.value.error}: ${answer.value.message}`);
    return answer.value;
  }

  /** Runs `method path` in `window` (null: the current one), after every earlier command. */
  command(window, method, path, body) {
    const run = async () => {
      if (window && window !== this.#current) {
        await this.#http('POST', `/session/${this.#id}/window`, { handle: window });
        this.#current = window;
      }
      return this.#http(method, `/session/${this.#id}${path}`, body);
    };
    const result = this.#queue.then(run, run);
    this.#queue = result.catch(() => {});
    return result;
  }

  forgetCurrent() {
    this.#current = null;
  }

  async close() {
    try {
      await this.#queue;
      await this.#http('DELETE', `/session/${this.#id}`);
    } catch {
      // The browser may already be gone; the driver is stopped below anyway.
    }
    await new Promise((resolve) => {
      if (this.#driver.exitCode !== null) return resolve();
      this.#driver.once('exit', () => resolve());
      this.#driver.kill('SIGTERM');
    });
  }
}

// The script that runs the test's function in the page and reports its value
// or its error. The function's source is part of the script, so no eval runs
// in the page (a page's CSP may forbid it).
const evaluateScript = (source) => `const done = arguments[arguments.length - 1];
const arg = arguments[0];
Promise.resolve()
  .then(() => (${source})(arg))
  .then((value) => done({ ok: true, value: value === undefined ? null : value }),
        (error) => done({ ok: false, error: String(error) + (error && error.stack ? ' | ' + error.stack : '') }));`;

class WebKitPage {
  #session;
  #window;

  constructor(session, window) {
    this.#session = session;
    this.#window = window;
  }

  async goto(url) {
    await this.#session.command(this.#window, 'POST', '/url', { url });
    await this.#settled();
  }

  async reload() {
    await this.#session.command(this.#window, 'POST', '/refresh', {});
    await this.#settled();
  }

  // WebKitWebDriver may answer a navigation before the page has loaded
  // (seen on a loaded machine: the test page's module script had not run
  // yet), and the first script run just after a load can fail inside the
  // driver (an error with no message). So: ask for document.readyState
  // until it says 'complete', retrying failed asks, for at most 30 s.
  async #settled() {
    const deadline = Date.now() + 30_000;
    let last = null;
    while (Date.now() < deadline) {
      try {
        last = await this.#session.command(this.#window, 'POST', '/execute/sync', { script: 'return document.readyState', args: [] });
        if (last === 'complete') return;
      } catch (error) {
        last = error.message;
      }
      await sleep(50);
    }
    throw new Error(`webkit: the page did not finish loading within 30 s (last: ${last})`);
  }

  /** Runs `fn(arg)` in the page (awaiting a promise); its value must be JSON. */
  async evaluate(fn, arg) {
    const result = await this.#session.command(this.#window, 'POST', '/execute/async', {
      script: evaluateScript(fn.toString()),
      args: [arg === undefined ? null : arg],
    });
    if (!result?.ok) throw new Error(`webkit evaluate: ${result?.error ?? 'no result'}`);
    return result.value;
  }

  async waitForTimeout(ms) {
    await sleep(ms);
  }

  /** Closes the window (pagehide and unload run as for a closed tab). */
  async close() {
    await this.#session.command(this.#window, 'DELETE', '/window');
    this.#session.forgetCurrent();
  }

  /** WebDriver classic reports no page errors; listeners are accepted and never called. */
  on() {
    return this;
  }
}

class WebKitContext {
  #session;

  constructor(session) {
    this.#session = session;
  }

  /** A new window; the session's first window stays open so closing a page never ends the session. */
  async newPage() {
    // New windows are opened from the first one: a closed page's window cannot open any.
    const { handle } = await this.#session.command(this.#session.anchor, 'POST', '/window/new', { type: 'window' });
    return new WebKitPage(this.#session, handle);
  }

  async close() {
    await this.#session.close();
  }
}

/** Starts Xvfb; resolves to a browser whose contexts are MiniBrowser sessions. */
export async function launchWebKit() {
  if (!existsSync(WEBKIT_DRIVER)) throw new Error(`webkit: ${WEBKIT_DRIVER} not found (apt-get install webkit2gtk-driver; scripts/setup.sh does)`);
  const xvfb = await startXvfb();
  const contexts = new Set();
  return {
    name: 'webkit',
    async newContext() {
      const context = new WebKitContext(await Session.start(xvfb.display));
      contexts.add(context);
      const close = context.close.bind(context);
      context.close = async () => {
        contexts.delete(context);
        await close();
      };
      return context;
    },
    async close() {
      await Promise.all([...contexts].map((context) => context.close()));
      await xvfb.stop();
    },
  };
}
