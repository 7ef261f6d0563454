// Bundles the page client into one ES module: static/onboarding/init.js and everything it imports
// (the modules, the libraries, the vendored idb), followed by esbuild from the entry's own import
// statements, so no list of files can drift from the code. One file instead of ~20 is one request
// on a slow network, and still all-or-nothing: if it fails to load, the page stays the plain form.
//
//   node bundle.js           write static/onboarding/build/client.js and its source map (`make bundle`)
//   node bundle.js --watch   rebuild on every change to a module (while editing the client)
//
// The output is committed, so `make run` and a deploy need no Node. esbuild's output is
// deterministic: tests/js/client-bundle.test.js builds again in memory with the locked esbuild and
// fails while the committed files differ.
import { rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

export const OPTIONS = {
  absWorkingDir: fileURLToPath(new URL(".", import.meta.url)),
  entryPoints: ["static/onboarding/init.js"],
  outfile: "static/onboarding/build/client.js",
  bundle: true,
  format: "esm", // loaded by <script type="module">: deferred, and skipped by browsers without modules
  minify: true,
  sourcemap: "linked", // the browser's tools show the modules as they are written
  logLevel: "warning",
};

async function main(args) {
  if (args.includes("--watch")) {
    const context = await esbuild.context({ ...OPTIONS, logLevel: "info" });
    await context.watch();
  } else {
    // Nothing left over from an earlier build (a renamed output would otherwise stay and be served).
    await rm(path.join(OPTIONS.absWorkingDir, path.dirname(OPTIONS.outfile)), { recursive: true, force: true });
    await esbuild.build(OPTIONS);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main(process.argv.slice(2));
