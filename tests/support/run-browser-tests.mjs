// Runs the wasm-bindgen browser tests (tests/browser_*.rs) in headless
// Chromium with a dev collector on 127.0.0.1 for the transport tests.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { startCollector } from '../../www/collector.mjs';

const collector = await startCollector();
const tests = readdirSync(new URL('..', import.meta.url))
  .filter((f) => /^browser_.*\.rs$/.test(f))
  .flatMap((f) => ['--test', f.replace(/\.rs$/, '')]);
const child = spawn('cargo', ['test', '--target', 'wasm32-unknown-unknown', ...tests], {
  stdio: 'inherit',
  env: {
    ...process.env,
    ANALYTICS_TEST_COLLECTOR: collector.url,
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER: 'wasm-bindgen-test-runner',
    WASM_BINDGEN_TEST_TIMEOUT: '120',
  },
});
const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c ?? 1)));
await collector.close();
process.exit(code);
