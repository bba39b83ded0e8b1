// Instantiates the site's module through its own wasm-bindgen glue in Node's V8 (the
// engine Chromium runs): this runs the module's start-up, where wasm-bindgen fills its
// table of JS values with WebAssembly.Table.set(). A module an optimiser has broken (as
// Debian's binaryen 108 did: "Table.set(): Argument 1 is invalid for table") fails here
// instead of in every user's browser.
//   usage: node .ci/instantiate.mjs <starling.js> <starling.wasm>
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [js, wasm] = process.argv.slice(2);
const glue = await import(pathToFileURL(js).href);
try {
  glue.initSync({ module: readFileSync(wasm) });
} catch (e) {
  console.error(`the WASM module does not start: ${e}`);
  process.exit(1);
}
