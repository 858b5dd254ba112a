// Firefox through WebDriver BiDi, driven by puppeteer-core (24.x runs on
// Node 20) against Debian's firefox-esr; nothing is downloaded.
//
// It implements the part of Playwright's API the tests shared by every browser use
// (see ./index.mjs). A context is a BiDi user context: its own storage.
import puppeteer from 'puppeteer-core';

export const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox';

class FirefoxPage {
  #page;

  constructor(page) {
    this.#page = page;
  }

  async goto(url) {
    await this.#page.goto(url, { waitUntil: 'load' });
  }

  async reload() {
    await this.#page.reload({ waitUntil: 'load' });
  }

  /** Runs `fn(arg)` in the page (awaiting a promise); its value must be JSON. */
  evaluate(fn, arg) {
    return this.#page.evaluate(fn, arg);
  }

  async waitForTimeout(ms) {
    await new Promise((resolve) => setTimeout(resolve, ms));
  }

  async close({ runBeforeUnload = false } = {}) {
    await this.#page.close({ runBeforeUnload });
  }

  on(event, listener) {
    if (event === 'pageerror') this.#page.on('pageerror', listener);
    return this;
  }
}

class FirefoxContext {
  #context;

  constructor(context) {
    this.#context = context;
  }

  async newPage() {
    return new FirefoxPage(await this.#context.newPage());
  }

  async close() {
    await this.#context.close();
  }
}

export async function launchFirefox() {
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    timeout: 60_000,
    protocolTimeout: 300_000,
    // No update checks, telemetry or remote settings on a closed network.
    extraPrefsFirefox: {
      'app.update.enabled': false,
      'datareporting.policy.dataSubmissionEnabled': false,
      'toolkit.telemetry.enabled': false,
      'network.captive-portal-service.enabled': false,
    },
  });
  return {
    name: 'firefox',
    async newContext() {
      return new FirefoxContext(await browser.createBrowserContext());
    },
    close: () => browser.close(),
  };
}
