// Turns wasm2js output into the script core.js loads: it sets
// `instantiate()` on the global object under CORE_KEY (asset-keys.js says
// why it is not an export); `instantiate()` returns a fresh instance's
// exports (memory and the aw_* functions), as WebAssembly.Instance#exports
// has them, so every browser gets its own core, as with the wasm. Minified
// with terser.
//   node scripts/lib/wasm2js-module.mjs <wasm2js output> <script out> <pkg dir>
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { minify } from 'terser';

const [input, output, pkg] = process.argv.slice(2);
const { CORE_KEY } = await import(pathToFileURL(resolve(join(pkg, 'asset-keys.js'))).href);
const source = readFileSync(input, 'utf8');
const tail = source.indexOf('var retasmFunc = asmFunc(');
if (tail < 0) throw new Error(`${input}: not wasm2js output (no retasmFunc)`);
const module = `${source.slice(0, tail)}
// A new instance of the core compiled to JavaScript: its exports.
globalThis[Symbol.for(${JSON.stringify(CORE_KEY.description)})] = () => asmFunc({});
`;
const { code } = await minify(module, { module: true, compress: { passes: 2 }, mangle: true });
writeFileSync(
  output,
  `// The core (src/core/) compiled to JavaScript by binaryen's wasm2js from an MVP build of\n// the same crate: loaded by core.js only where WebAssembly cannot run. Generated; do not edit.\n${code}\n`,
);
