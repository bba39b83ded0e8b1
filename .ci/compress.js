// Writes NAME.br (brotli, quality 11) and NAME.gz (gzip -9) beside every file given or found
// in the folders given, with Node's own zlib, for the server to send precompressed.
const fs = require("fs");
const path = require("path");
const zlib = require("zlib");

function files(p) {
  if (fs.statSync(p).isDirectory()) return fs.readdirSync(p).flatMap((n) => files(path.join(p, n)));
  return /\.(br|gz)$/.test(p) ? [] : [p];
}

for (const file of process.argv.slice(2).flatMap(files)) {
  const bytes = fs.readFileSync(file);
  fs.writeFileSync(file + ".br", zlib.brotliCompressSync(bytes, {
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
      [zlib.constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
    },
  }));
  fs.writeFileSync(file + ".gz", zlib.gzipSync(bytes, { level: 9 }));
}
