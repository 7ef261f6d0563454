// The committed client bundle (static/onboarding/build/) is exactly what `make bundle` builds now:
// the same build (bundle.js's options, the esbuild package-lock.json pins), run again in memory and
// compared byte for byte. In memory rather than in a temporary folder: the source map names the
// modules relative to where it is written, so only the real output path gives the same bytes.
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { test } from "node:test";
import * as esbuild from "esbuild";

import { OPTIONS } from "../../bundle.js";

const STALE = "is not what `make bundle` builds from the modules as they are: run `make bundle` and commit it";

test("the committed bundle and its source map are what the locked esbuild builds now", async () => {
  const { outputFiles } = await esbuild.build({ ...OPTIONS, write: false, logLevel: "silent" });

  for (const file of outputFiles) {
    const name = path.relative(OPTIONS.absWorkingDir, file.path);
    const committed = await readFile(file.path).catch(() => Buffer.alloc(0));
    assert.ok(committed.equals(file.contents), `${name} ${STALE}`);
  }
  const folder = path.join(OPTIONS.absWorkingDir, path.dirname(OPTIONS.outfile));
  const built = outputFiles.map((file) => path.basename(file.path)).sort();
  assert.deepEqual((await readdir(folder)).sort(), built, `${path.dirname(OPTIONS.outfile)} holds other files`);
});
