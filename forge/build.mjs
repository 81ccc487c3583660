// Bundles each Custom UI entry point (src/<page>.js with @forge/bridge) into
// static/<page>/main.js and main.css, the folders manifest.yml declares as resources.
// The bundles are committed so that the resource folders are deployable as they are.
//
//   npm --prefix forge ci && npm --prefix forge run build   # rebuild after changing src/
//   npm --prefix forge run check                            # exit 1 if a committed bundle is stale
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const PAGES = ['macro', 'macro-config', 'space-settings', 'space-page', 'global-settings'];
const check = process.argv.includes('--check');

async function bundle(page) {
  const result = await esbuild.build({
    absWorkingDir: here,
    entryPoints: [`src/${page}.js`],
    outfile: `static/${page}/main.js`,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: ['es2020'],
    minify: true,
    // Only the bridge's ADF renderer (view.createAdfRendererIframeProps) loads iframe-resizer, by a
    // dynamic import; these pages never call it, so it stays out of the bundles.
    external: ['iframe-resizer'],
    legalComments: 'eof',
    banner: {
      js: `/* Generated from forge/src/${page}.js by forge/build.mjs (npm run build); do not edit. */`,
      css: `/* Generated from forge/src/lib/style.css by forge/build.mjs (npm run build); do not edit. */`,
    },
    write: false,
    logLevel: 'warning',
  });
  return result.outputFiles;
}

let stale = 0;
for (const page of PAGES) {
  for (const file of await bundle(page)) {
    const name = relative(here, file.path);
    if (!check) {
      await writeFile(file.path, file.contents);
      console.log(`wrote forge/${name} (${file.contents.length} bytes)`);
      continue;
    }
    const committed = await readFile(file.path).catch(() => Buffer.alloc(0));
    if (!committed.equals(Buffer.from(file.contents))) {
      stale += 1;
      console.error(`stale: forge/${name} differs from a fresh build of forge/src`);
    }
  }
}
if (check) {
  if (stale) {
    console.error('Run `npm --prefix forge run build` and commit the result.');
    process.exit(1);
  }
  console.log(`all ${PAGES.length} Custom UI bundles match forge/src`);
}
