// Gives core.js the wasm's export names as wasm-opt shortened them
// (--minify-imports-and-exports: memory → a, aw_clock → b, …): every
// `this.#x.<export>` in it becomes `this.#x.<short name>`. core.js is the
// one module that touches the exports, always through `this.#x`. The wasm
// and its wasm2js build must have been given the same names, since one
// core.js drives both; this fails if they differ, or if core.js names an
// export the map does not hold.
//
//   node scripts/lib/export-names.mjs <wasm's map> <wasm2js build's map> <core.js>
import { readFileSync, writeFileSync } from 'node:fs';

const [wasmMap, jsMap, file] = process.argv.slice(2);
// wasm-opt prints { "imports": [], "exports": [[name, short], …] }.
const exportsOf = (path) => JSON.parse(readFileSync(path, 'utf8')).exports;
const names = exportsOf(wasmMap);
if (JSON.stringify(names) !== JSON.stringify(exportsOf(jsMap))) {
  throw new Error(`${wasmMap} and ${jsMap} name the exports differently: the wasm and its JavaScript build must match for core.js to drive both`);
}
const short = new Map(names);
const unknown = new Set();
const used = new Set();
const source = readFileSync(file, 'utf8').replace(/this\.#x\.(\w+)/g, (whole, name) => {
  if (!short.has(name)) {
    unknown.add(name);
    return whole;
  }
  used.add(name);
  return `this.#x.${short.get(name)}`;
});
if (unknown.size) throw new Error(`${file} calls ${[...unknown].join(', ')}, which the wasm does not export`);
const unused = names.map(([name]) => name).filter((name) => !used.has(name));
if (unused.length) throw new Error(`${file} never calls the export(s) ${unused.join(', ')}: remove them from src/wasm or call them`);
writeFileSync(file, source);
