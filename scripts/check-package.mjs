#!/usr/bin/env node
/**
 * `npm run check:package` (and `.ci/run`): checks the package a user installs, not the checkout.
 *
 * 1. Contents (`npm pack --dry-run --json`): every file is one the package means to ship (compiled
 *    JavaScript with its declarations, the addon's C sources and binding.gyp for the source
 *    fallback, the prebuilt addon for this platform, the install script, docs, README, LICENSE,
 *    CHANGELOG); no tests, no `.tmp`, no source maps (the build emits none), no build output,
 *    no compiled file without its source in `src/`; every relative import inside `dist/` resolves
 *    to a packed file and every bare import is a Node builtin or a declared dependency.
 * 2. `npm pack` into a temporary directory, then `npm install --ignore-scripts <tarball>` into a
 *    scratch project next to it (its one dependency, node-gyp-build, comes from the registry):
 *    with no `build/` the addon must load from the prebuild, `nativeStatus().loaded === true`,
 *    through `import` (an .mjs consumer) and through `require` (a .cjs consumer, Node's
 *    require(esm)), and a datagram must go through 127.0.0.1 with the installed package. The
 *    installed `mediasock --version` prints the package's version. A TypeScript consumer (ESM and
 *    CommonJS) type-checks against the shipped declarations.
 * 3. The install script: installed with scripts, it must use the prebuild and build nothing; with
 *    no matching prebuild (`LIBC=musl`, so node-gyp-build skips the glibc one) it builds from the
 *    shipped sources with local headers, and the addon loads from `build/Release`.
 *
 * Needs `npm run prebuilds` first. Exits non-zero with the reason on the first failure.
 * `--keep` leaves the temporary directory for inspection.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const libc = process.report.getReport().header.glibcVersionRuntime === undefined ? 'musl' : 'glibc';
const prebuild = `prebuilds/${process.platform}-${process.arch}/mediasock.${libc}.node`;

/** The environment for child npm/node runs: without the npm run variables of this checkout. */
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !k.startsWith('npm_package_') && !k.startsWith('npm_lifecycle_'),
  ),
);
delete env.MEDIASOCK_NO_NATIVE;
delete env.MEDIASOCK_NATIVE_PATH;

let failures = 0;
function check(ok, what) {
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!ok) failures++;
  return ok;
}
function step(title) {
  process.stdout.write(`\n--- ${title}\n`);
}

function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, ...options });
  if (r.error) throw r.error;
  return r;
}

function runOk(cmd, args, options = {}) {
  const r = run(cmd, args, options);
  if (r.status !== 0) {
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}`);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
step('contents (npm pack --dry-run --json)');

if (!existsSync(join(root, prebuild))) {
  process.stderr.write(`check-package: ${prebuild} is missing: run \`npm run prebuilds\` first\n`);
  process.exit(1);
}

const dry = runOk('npm', ['pack', '--dry-run', '--json'], { cwd: root });
const packed = JSON.parse(dry.stdout.slice(dry.stdout.indexOf('[')))[0];
const files = packed.files.map((f) => f.path).sort();
for (const f of packed.files) process.stdout.write(`  ${String(f.size).padStart(7)}  ${f.path}\n`);
process.stdout.write(
  `  ${packed.entryCount} files, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked\n`,
);

/** What may ship: anything else is a stray file. */
const allowed = [
  /^package\.json$/,
  /^README\.md$/,
  /^LICENSE$/,
  /^CHANGELOG\.md$/,
  /^binding\.gyp$/,
  /^scripts\/(build-native|native-toolchain)\.mjs$/,
  /^dist\/src\/.+\.(js|d\.ts)$/,
  /^native\/src\/[\w-]+\.[ch]$/,
  /^prebuilds\/[\w-]+\/mediasock\.(glibc|musl)\.node$/,
  /^docs\/[\w-]+\.md$/,
];
/** Never shipped, whatever `files` says (named here so the failure says why). */
const forbidden = [
  [/(^|\/)test(s)?\//, 'a test directory'],
  [/\.test\.[cm]?[jt]s$/, 'a test file'],
  [/(^|\/)\.tmp(\/|$)/, '.tmp'],
  [/\.map$/, 'a source map (the build emits none and src/ is not shipped)'],
  [/(^|\/)build\//, 'node-gyp build output'],
  [/(^|\/)node_modules\//, 'node_modules'],
  [/^docs\/api\//, 'generated API docs'],
  [/^bench\//, 'benchmarks'],
];

for (const f of files) {
  const bad = forbidden.find(([re]) => re.test(f));
  if (bad) check(false, `${f} is ${bad[1]}`);
  else if (!allowed.some((re) => re.test(f))) check(false, `${f} is not a file the package ships`);
}
check(failures === 0, 'no stray files');

const required = [
  'package.json',
  'README.md',
  'LICENSE',
  'CHANGELOG.md',
  'binding.gyp',
  'scripts/build-native.mjs',
  'scripts/native-toolchain.mjs',
  'dist/src/index.js',
  'dist/src/index.d.ts',
  pkg.bin.mediasock.replace(/^\.\//, ''),
  prebuild,
  ...readdirSync(join(root, 'native/src')).map((f) => `native/src/${f}`),
];
for (const f of required) check(files.includes(f), `ships ${f}`);

const compiled = files.filter((f) => f.startsWith('dist/src/') && f.endsWith('.js'));
for (const f of compiled) {
  const source = f.replace(/^dist\//, '').replace(/\.js$/, '.ts');
  if (!existsSync(join(root, source))) check(false, `${f} has no source ${source} (stale build)`);
  if (!files.includes(f.replace(/\.js$/, '.d.ts'))) check(false, `${f} has no declarations`);
}
check(compiled.length > 0, `${compiled.length} compiled modules, each with its source and .d.ts`);

// Every import inside dist/ must resolve within the package or to a builtin or a dependency.
const deps = new Set(Object.keys(pkg.dependencies ?? {}));
const builtins = new Set(builtinModules);
let imports = 0;
for (const f of files.filter((x) => x.startsWith('dist/src/'))) {
  const text = readFileSync(join(root, f), 'utf8');
  for (const m of text.matchAll(
    /(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|require\(\s*['"]([^'"]+)['"]\s*\)/gm,
  )) {
    const spec = m[1] ?? m[2] ?? m[3];
    imports++;
    if (spec.startsWith('.')) {
      const target = posix.normalize(posix.join(posix.dirname(f), spec));
      if (!files.includes(target)) check(false, `${f} imports ${spec}, which is not packed`);
    } else if (spec.startsWith('node:') || builtins.has(spec)) {
      continue;
    } else if (!deps.has(spec.split('/')[0])) {
      check(false, `${f} imports ${spec}, which is not a dependency`);
    }
  }
}
check(failures === 0, `${imports} imports in dist/ resolve inside the package or to dependencies`);

// ---------------------------------------------------------------------------------------------
step('npm pack and a scratch install with --ignore-scripts');

const scratch = mkdtempSync(join(tmpdir(), 'mediasock-package-'));
process.stdout.write(`  scratch directory ${scratch}\n`);
try {
  const packOut = runOk('npm', ['pack', '--json', '--pack-destination', scratch], { cwd: root });
  const tarball = join(
    scratch,
    JSON.parse(packOut.stdout.slice(packOut.stdout.indexOf('[')))[0].filename,
  );
  check(existsSync(tarball), `packed ${tarball}`);
  const listing = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' });
  check(listing.includes(`package/${prebuild}\n`), `the tarball carries ${prebuild}`);

  /** A consumer project next to the tarball; returns its directory. */
  function consumer(name) {
    const dir = join(scratch, name);
    rmSync(dir, { recursive: true, force: true });
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: `mediasock-${name}`, version: '1.0.0', private: true }, null, 2),
    );
    return dir;
  }

  const plain = consumer('consumer');
  runOk(
    'npm',
    ['install', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball],
    { cwd: plain },
  );
  const installed = join(plain, 'node_modules/mediasock');
  check(!existsSync(join(installed, 'build')), 'installed with --ignore-scripts: no build/');
  const deps = readdirSync(join(plain, 'node_modules')).filter((d) => !d.startsWith('.'));
  check(
    deps.sort().join(',') === 'mediasock,node-gyp-build',
    `node_modules holds mediasock and node-gyp-build only (${deps.join(', ')})`,
  );

  // One datagram over 127.0.0.1 through the installed package, then the addon's status.
  const body = (load) => `${load}
const rx = await UdpSocket.open({ type: 'udp4', address: '127.0.0.1', port: 0 });
const tx = await UdpSocket.open({ type: 'udp4' });
const got = rx.receive();
await tx.send(Buffer.from('hello'), rx.address().port, '127.0.0.1');
const datagram = await got;
await tx.close();
await rx.close();
const s = nativeStatus();
console.log(JSON.stringify({ loaded: s.loaded, path: s.path, error: s.loadError?.message,
  engine: rx.engine, received: datagram.data.toString() }));
`;
  writeFileSync(
    join(plain, 'check.mjs'),
    body("import { UdpSocket, nativeStatus } from 'mediasock';"),
  );
  writeFileSync(
    join(plain, 'check.cjs'),
    `(async () => {\n${body("const { UdpSocket, nativeStatus } = require('mediasock');")}})().catch((err) => { console.error(err); process.exit(1); });\n`,
  );
  for (const file of ['check.mjs', 'check.cjs']) {
    const r = run(process.execPath, [file], { cwd: plain });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    process.stdout.write(`  node ${file}: ${line}\n`);
    if (r.stderr.trim())
      process.stdout.write(`  (stderr) ${r.stderr.trim().split('\n').join('\n  ')}\n`);
    let status = {};
    try {
      status = JSON.parse(line);
    } catch {
      check(false, `node ${file} printed no status (exit ${r.status})`);
      continue;
    }
    const how = file.endsWith('.mjs') ? 'import' : 'require';
    check(r.status === 0 && status.received === 'hello', `${how}: a datagram over 127.0.0.1`);
    check(status.loaded === true, `${how}: nativeStatus().loaded === true`);
    check(
      typeof status.path === 'string' &&
        status.path.endsWith(`/node_modules/mediasock/${prebuild}`),
      `${how}: loaded from the prebuild (${status.path ?? status.error})`,
    );
  }

  // The installed command line: `mediasock --version` reads the installed package.json.
  const bin = join(plain, 'node_modules', '.bin', 'mediasock');
  const v = run(bin, ['--version'], { cwd: plain });
  check(
    v.status === 0 && v.stdout === `mediasock ${pkg.version}\n`,
    `node_modules/.bin/mediasock --version prints "mediasock ${pkg.version}" (${JSON.stringify(v.stdout.trim() || v.stderr.trim())})`,
  );

  // The shipped declarations, from an ESM and a CommonJS TypeScript consumer.
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  if (check(existsSync(tsc), 'TypeScript available for the declaration check')) {
    const ts = `import { UdpSocket, nativeStatus } from 'mediasock';
import type { DatagramBatch, NativeStatus, UdpSocketOptions } from 'mediasock';
const options: UdpSocketOptions = { type: 'udp4', address: '127.0.0.1', port: 0 };
const status: NativeStatus = nativeStatus();
export async function first(): Promise<number> {
  const socket = await UdpSocket.open(options);
  for await (const batch of socket.batches()) {
    const b: DatagramBatch = batch;
    return b.count + (status.loaded ? 1 : 0);
  }
  return 0;
}
`;
    writeFileSync(join(plain, 'consumer.mts'), ts);
    writeFileSync(join(plain, 'consumer.cts'), ts);
    writeFileSync(
      join(plain, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          typeRoots: [join(root, 'node_modules/@types')],
          types: ['node'],
        },
        files: ['consumer.mts', 'consumer.cts'],
      }),
    );
    const r = run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: plain });
    if (r.status !== 0) process.stdout.write(r.stdout + r.stderr);
    check(r.status === 0, 'TypeScript consumers (ESM and CommonJS, nodenext) type-check');
  }

  // -------------------------------------------------------------------------------------------
  step('install script: uses the prebuild, else builds from the shipped sources');

  const withScripts = consumer('consumer-scripts');
  const i1 = runOk(
    'npm',
    ['install', '--foreground-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball],
    { cwd: withScripts },
  );
  const said1 = `${i1.stdout}${i1.stderr}`.split('\n').filter((l) => l.includes('mediasock:'));
  for (const l of said1) process.stdout.write(`  ${l.trim()}\n`);
  check(
    said1.some((l) => l.includes('using the prebuilt native addon')),
    'the install script found the prebuild usable',
  );
  check(
    !existsSync(join(withScripts, 'node_modules/mediasock/build')),
    'and built nothing (no build/)',
  );

  const fallback = consumer('consumer-fallback');
  const i2 = runOk(
    'npm',
    ['install', '--foreground-scripts', '--no-audit', '--no-fund', '--prefer-offline', tarball],
    { cwd: fallback, env: { ...env, LIBC: 'musl' } },
  );
  const said2 = `${i2.stdout}${i2.stderr}`.split('\n').filter((l) => l.includes('mediasock:'));
  for (const l of said2) process.stdout.write(`  ${l.trim()}\n`);
  const built = join(fallback, 'node_modules/mediasock/build/Release/mediasock.node');
  check(existsSync(built), 'with no matching prebuild (LIBC=musl) it built from source');
  writeFileSync(
    join(fallback, 'check.mjs'),
    "import { nativeStatus } from 'mediasock';\nconsole.log(nativeStatus().path ?? nativeStatus().loadError?.message);\n",
  );
  const r = run(process.execPath, ['check.mjs'], { cwd: fallback });
  check(r.stdout.trim() === built, `and that build loads (${r.stdout.trim()})`);
} finally {
  if (keep) process.stdout.write(`\nkept ${scratch}\n`);
  else rmSync(scratch, { recursive: true, force: true });
}

process.stdout.write(
  `\n${failures === 0 ? 'package check passed' : `${failures} check(s) failed`}\n`,
);
process.exit(failures === 0 ? 0 : 1);
