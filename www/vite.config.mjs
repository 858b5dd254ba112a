// The demo resolves 'analytics-wasm' to the built package in pkg/, the way
// an app resolves it from node_modules; the demo never imports internals.
import { fileURLToPath } from 'node:url';

export default {
  root: fileURLToPath(new URL('.', import.meta.url)),
  resolve: { alias: { 'analytics-wasm': fileURLToPath(new URL('../pkg', import.meta.url)) } },
  build: { outDir: 'dist', emptyOutDir: true },
  logLevel: 'warn',
};
