// Prints the size of the built app: every file under dist/ with its gzip size, and the totals.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = new URL('../dist/', import.meta.url).pathname;

function files(directory) {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;
let total = 0;
let totalGzip = 0;
const rows = files(root)
  .filter((path) => /\.(js|css|html)$/.test(path))
  .map((path) => {
    const content = readFileSync(path);
    const gzip = gzipSync(content).length;
    total += content.length;
    totalGzip += gzip;
    return { path: relative(root, path), size: content.length, gzip };
  })
  .sort((a, b) => b.size - a.size);
for (const row of rows) {
  console.log(
    `${row.path.padEnd(48)} ${kib(row.size).padStart(12)}  gzip ${kib(row.gzip).padStart(10)}`,
  );
}
console.log(`bundle size: ${kib(total)} (gzip ${kib(totalGzip)}) in ${rows.length} files`);
