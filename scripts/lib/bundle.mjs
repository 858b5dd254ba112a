// Builds what pkg/ ships of JavaScript, from the modules beside it:
//
// - index.js and service-worker.js, the two entries, each as one module
//   with its page-level modules inlined, minified (keeping the comments
//   that tell bundlers to leave the import() of a URL alone). A page without a bundler loads one file,
//   not eleven in a waterfall (40 to 55 ms on this machine's Chromium).
// - analytics-recorder.js: the recorder (recorder.js), the driver (driver.js) and its leaves as one
//   minified script, which the entry loads by URL, as it does the wasm. A
//   bundler ships it as it is, so it carries no comment: every byte of it is
//   downloaded. It imports and exports nothing: it sets startRecording on the
//   global object under RECORDER_KEY (asset-keys.js says why). What it shares
//   with the page's modules (the tables, the id function) is handed to
//   startRecording, so no second copy of those ships: this fails if one is
//   bundled in.
//
// Each minified file's source map goes to target/sourcemaps/ (never
// shipped): `npm run bench` reads CPU profiles of the shipped code through
// them, by module and function of js/.
//
//   node scripts/lib/bundle.mjs <pkg dir>
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { minify } from 'terser';

const PAGE_MODULES = ['tables.js', 'identity.js', 'input.js', 'outcomes.js', 'calls.js', 'session.js', 'page-store.js', 'client.js', 'index.js'];

const dir = process.argv[2];
const mapDir = fileURLToPath(new URL('../../target/sourcemaps/', import.meta.url));
mkdirSync(mapDir, { recursive: true });

/** terser's options for a bundle esbuild made with its map: the output maps to the modules in js/. */
const mapped = (bundled, file) => ({
  content: JSON.parse(bundled.outputFiles.find((out) => out.path.endsWith('.map')).text),
  filename: file,
});
const codeOf = (bundled) => bundled.outputFiles.find((out) => !out.path.endsWith('.map')).text;
const writeMap = (file, map) => writeFileSync(join(mapDir, `${file}.map`), typeof map === 'string' ? map : JSON.stringify(map));

const recorder = await esbuild.build({
  stdin: {
    // The same script is the recorder's worker's (worker.js), which knows itself by its name.
    contents: [
      "import { startRecording } from './recorder.js';",
      "import { RECORDER_KEY } from './asset-keys.js';",
      "import { WORKER_NAME, serveJobs } from './worker.js';",
      'globalThis[RECORDER_KEY] = startRecording;',
      "if (typeof WorkerGlobalScope !== 'undefined' && self.name === WORKER_NAME) serveJobs(self);",
    ].join('\n'),
    resolveDir: dir,
    sourcefile: 'analytics-recorder.js',
  },
  bundle: true,
  format: 'esm',
  write: false,
  sourcemap: 'external',
  outfile: join(dir, 'analytics-recorder.js'),
  metafile: true,
  logLevel: 'error',
});
const copied = Object.keys(recorder.metafile.inputs).map((file) => basename(file)).filter((file) => PAGE_MODULES.includes(file));
if (copied.length) throw new Error(`analytics-recorder.js would carry a copy of the page's ${copied.join(', ')}: hand it to startRecording instead`);
const { code, map } = await minify(codeOf(recorder), {
  module: true,
  compress: { passes: 3, pure_getters: true, hoist_funs: true },
  mangle: true,
  sourceMap: mapped(recorder, 'analytics-recorder.js'),
});
writeFileSync(join(dir, 'analytics-recorder.js'), `${code}\n`);
writeMap('analytics-recorder.js', map);

// The entries last: they overwrite their own sources. Minified here too,
// keeping the comments that tell bundlers to leave the import() of a URL
// alone: an app's own minifier then starts from terser's output, 22 B
// smaller on a Vite app's critical path than Vite's alone makes it.
for (const entry of ['index.js', 'service-worker.js']) {
  const bundled = await esbuild.build({ entryPoints: [join(dir, entry)], bundle: true, format: 'esm', write: false, logLevel: 'error', sourcemap: 'external', outfile: join(dir, entry) });
  const minified = await minify(codeOf(bundled), {
    module: true,
    compress: { passes: 3, pure_getters: true, hoist_funs: true },
    mangle: true,
    format: { comments: /webpackIgnore|@vite-ignore/ },
    sourceMap: mapped(bundled, entry),
  });
  writeFileSync(join(dir, entry), `// analytics-wasm ${entry}: built by scripts/lib/bundle.mjs from the modules in js/ (readable there).\n${minified.code}\n`);
  // The file starts with that one line of comment, which the map does not count.
  const map = JSON.parse(minified.map);
  map.mappings = `;${map.mappings}`;
  writeMap(entry, map);
}
