// What an app ships for us, measured as users measure it: the package
// built into a Vite production app (tests/consumer/vite-app, a few lines of
// its own), every output file minified by Vite and compressed on its own
// (gzip -9, brotli 11), as a server sends them. The critical path is what
// `import { createAnalytics }` loads before the wasm is fetched: the entry
// chunk, less the app's own few lines (measured by building the app once
// with the package stubbed out).
//
//   node scripts/shipped-size.mjs            prints the table, writes target/shipped-size.json
//   node scripts/shipped-size.mjs --check    also fails beyond size-budget.json
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));

const compressed = (bytes) => ({
  raw: bytes.length,
  gzip: gzipSync(bytes, { level: 9 }).length,
  brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
});

async function buildApp(alias) {
  const { build } = await import('vite');
  const outDir = mkdtempSync(join(tmpdir(), 'analytics-wasm-size-'));
  try {
    const output = await build({
      root: `${root}tests/consumer/vite-app`,
      logLevel: 'silent',
      resolve: { alias: { 'analytics-wasm': alias } },
      build: { outDir, emptyOutDir: true, write: true },
    });
    const chunks = [output].flat().flatMap((o) => o.output);
    const files = readdirSync(join(outDir, 'assets')).map((name) => ({
      name,
      ...compressed(readFileSync(join(outDir, 'assets', name))),
      entry: chunks.some((c) => c.type === 'chunk' && c.isEntry && c.fileName === `assets/${name}`),
    }));
    return files;
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
}

/** Per-file sizes of what the Vite app ships for us, the total, and the critical path. */
export async function shippedSize() {
  const files = await buildApp(`${root}pkg/index.js`);
  const stubDir = mkdtempSync(join(tmpdir(), 'analytics-wasm-stub-'));
  const stub = join(stubDir, 'index.js');
  writeFileSync(stub, 'export const createAnalytics = () => ({ page() {}, track() {}, flush() {} });\n');
  let appOnly;
  try {
    appOnly = (await buildApp(stub)).find((f) => f.entry);
  } finally {
    rmSync(stubDir, { recursive: true, force: true });
  }
  const sum = (list, key) => list.reduce((total, f) => total + f[key], 0);
  const entry = files.find((f) => f.entry);
  const named = files.map(({ name, raw, gzip, brotli }) => ({ name: name.replace(/-[\w-]{8}\./, '.'), raw, gzip, brotli }));
  // The core compiled to JavaScript is fetched only where WebAssembly cannot
  // run: reported on its own, outside what every visitor downloads.
  const isFallback = (f) => f.name === 'analytics-core.js';
  const shipped = named.filter((f) => !isFallback(f));
  return {
    files: shipped,
    fallback: named.find(isFallback) ?? null,
    total: { raw: sum(shipped, 'raw'), gzip: sum(shipped, 'gzip'), brotli: sum(shipped, 'brotli') },
    // The entry chunk holds the app's lines too; they are not ours.
    criticalPath: { gzip: entry.gzip - appOnly.gzip, brotli: entry.brotli - appOnly.brotli },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const size = await shippedSize();
  mkdirSync(`${root}target`, { recursive: true });
  writeFileSync(`${root}target/shipped-size.json`, JSON.stringify(size, null, 2) + '\n');
  console.log('shipped in a Vite production app (bytes)'.padEnd(44), 'raw'.padStart(8), 'gzip-9'.padStart(8), 'brotli'.padStart(8));
  for (const f of size.files) console.log(`  ${f.name}`.padEnd(44), String(f.raw).padStart(8), String(f.gzip).padStart(8), String(f.brotli).padStart(8));
  console.log('  total'.padEnd(44), String(size.total.raw).padStart(8), String(size.total.gzip).padStart(8), String(size.total.brotli).padStart(8));
  console.log('  critical path (before the wasm is fetched)'.padEnd(44), ''.padStart(8), String(size.criticalPath.gzip).padStart(8), String(size.criticalPath.brotli).padStart(8));
  if (size.fallback) {
    const f = size.fallback;
    console.log('  only where WebAssembly cannot run:'.padEnd(44));
    console.log(`  ${f.name} (the core compiled to JS)`.padEnd(44), String(f.raw).padStart(8), String(f.gzip).padStart(8), String(f.brotli).padStart(8));
  }
  if (process.argv.includes('--check')) {
    const budget = JSON.parse(readFileSync(`${root}size-budget.json`, 'utf8'));
    const over = [];
    if (size.total.gzip > budget.totalGzip) over.push(`total ${size.total.gzip} B gzip > budget ${budget.totalGzip}`);
    if (size.criticalPath.gzip > budget.criticalPathGzip) over.push(`critical path ${size.criticalPath.gzip} B gzip > budget ${budget.criticalPathGzip}`);
    if (over.length) {
      console.error(`size budget exceeded (size-budget.json): ${over.join('; ')}`);
      process.exit(1);
    }
    console.log(`within size-budget.json: total ≤ ${budget.totalGzip} B gzip, critical path ≤ ${budget.criticalPathGzip} B gzip`);
  }
}
