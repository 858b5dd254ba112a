// One page driver for every engine, so a scenario is written once and runs on
// Chromium, Firefox and WebKit (Safari's engine), all from Debian's packages.
//
// The driver is the part of Playwright's API these tests use:
//   browser.newContext() → context (own storage)     browser.close()
//   context.newPage() → page                          context.close()
//   page.goto(url)  page.reload()  page.evaluate(fn, arg)  page.waitForTimeout(ms)
//   page.close({ runBeforeUnload })  page.on('pageerror', listener)
// Chromium is Playwright itself (so Chromium-only tests may use the rest of
// it: init scripts, CDP, crashes); Firefox and WebKit implement that subset.
// Init scripts differ per engine, so engine-neutral tests pass setup code
// to the test page instead (`init` in the harness).
import { launchBrowser } from '../browser.mjs';
import { launchFirefox } from './firefox.mjs';
import { launchWebKit } from './webkit.mjs';

/** Every engine, or those named in ANALYTICS_ENGINES (comma-separated). */
export const ENGINES = (process.env.ANALYTICS_ENGINES ?? 'chromium,firefox,webkit').split(',').map((name) => name.trim()).filter(Boolean);

export async function launchEngine(engine) {
  switch (engine) {
    case 'chromium': {
      const browser = await launchBrowser();
      browser.engine = 'chromium';
      return browser;
    }
    case 'firefox':
      return launchFirefox();
    case 'webkit':
      return launchWebKit();
    default:
      throw new Error(`unknown engine ${engine}: chromium, firefox or webkit`);
  }
}
