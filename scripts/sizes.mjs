// Prints raw, gzip -9 and brotli sizes of the files given, and their total.
import { readFileSync } from 'node:fs';
import { gzipSync, brotliCompressSync, constants } from 'node:zlib';

const rows = process.argv.slice(2).map((file) => {
  const bytes = readFileSync(file);
  return {
    file,
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
});
const total = rows.reduce((t, r) => ({ file: 'total', raw: t.raw + r.raw, gzip: t.gzip + r.gzip, brotli: t.brotli + r.brotli }), { raw: 0, gzip: 0, brotli: 0 });
console.log('size (bytes)'.padEnd(36), 'raw'.padStart(8), 'gzip-9'.padStart(8), 'brotli'.padStart(8));
for (const r of [...rows, total]) {
  console.log(r.file.padEnd(36), String(r.raw).padStart(8), String(r.gzip).padStart(8), String(r.brotli).padStart(8));
}
