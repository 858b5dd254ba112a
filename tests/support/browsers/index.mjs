// One page driver for every browser, so a scenario is written once and runs on
// Chromium, Firefox and WebKit (what Safari is built on), all from Debian's packages.
//
// The driver is the part of Playwright's API these tests use:
//   browser.newContext() → context (own storage)     browser.close()
//   context.newPage() → page                          context.close()
//   page.goto(url)  page.reload()  page.evaluate(fn, arg)  page.waitForTimeout(ms)
//   page.close({ runBeforeUnload })  page.on('pageerror', listener)
// Chromium is Playwright itself (so Chromium-only tests may use the rest of
// it: init scripts, CDP, crashes); Firefox and WebKit implement that subset.
// Init scripts differ per browser, so tests shared by every browser pass setup code
// to the test page instead (`init` in the harness).
import { launchBrowser } from '../browser.mjs';
import { launchFirefox } from './firefox.mjs';
import { launchWebKit } from './webkit.mjs';

/** Every browser, or those named in ANALYTICS_BROWSERS (comma-separated). */
export const BROWSERS = (process.env.ANALYTICS_BROWSERS ?? 'chromium,firefox,webkit').split(',').map((name) => name.trim()).filter(Boolean);

export async function launchNamed(name) {
  switch (name) {
    case 'chromium': {
      const browser = await launchBrowser();
      browser.name = 'chromium';
      return browser;
    }
    case 'firefox':
      return launchFirefox();
    case 'webkit':
      return launchWebKit();
    default:
      throw new Error(`unknown browser ${name}: chromium, firefox or webkit`);
  }
}
