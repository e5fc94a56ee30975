// Makes sure a mediasoup-worker binary exists (package.json `postinstall`).
//
// Lookup order (the same as sft/workerBinary.ts):
//   1. $MEDIASOUP_WORKER_BIN, if that file exists;
//   2. the cached build ${SFT_CACHE_DIR:-~/.cache/federated-sft}/mediasoup-worker-<version>-<build id>/mediasoup-worker;
//   3. mediasoup's own node_modules/mediasoup/worker/out/Release/mediasoup-worker (unpatched).
// If none exists: build it offline with scripts/build-mediasoup-worker.sh
// (patched); failing that, unless SFT_SKIP_PREBUILT is set, run mediasoup's
// own postinstall (downloads the unpatched prebuilt worker where there is
// internet; npm's allowScripts keeps it from running by itself).
// Never fails `npm install`: at worst it prints what to install and exits 0
// (`npm start` then refuses with the same advice).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BUILD_SCRIPT = join(ROOT, 'scripts', 'build-mediasoup-worker.sh');
const PREBUILT_TIMEOUT_MS = 120_000;
const ADVICE =
	'No mediasoup worker binary available: install the Debian packages ' +
	'g++ meson ninja-build pkg-config libuv1-dev libssl-dev libsrtp2-dev libusrsctp-dev ' +
	'libabsl-dev libflatbuffers-dev flatbuffers-compiler and run `bash scripts/build-mediasoup-worker.sh`, ' +
	'or set MEDIASOUP_WORKER_BIN to a mediasoup-worker binary.';

const log = (msg) => console.log(`[ensure-worker] ${msg}`);

function main() {
	const env = process.env;

	if (env.MEDIASOUP_WORKER_BIN && existsSync(env.MEDIASOUP_WORKER_BIN)) {
		return;
	}

	const mediasoupDir = findMediasoupDir();
	if (!mediasoupDir) {
		log('mediasoup is not installed yet; skipping worker setup');
		return;
	}

	const version = JSON.parse(readFileSync(join(mediasoupDir, 'package.json'), 'utf8')).version;
	const ownBinary = join(mediasoupDir, 'worker', 'out', 'Release', 'mediasoup-worker');
	const cacheDir = env.SFT_CACHE_DIR || join(env.HOME || homedir(), '.cache', 'federated-sft');
	const buildId = readFileSync(join(ROOT, 'scripts', 'mediasoup-worker', 'build-id'), 'utf8').trim();
	const cachedBinary = join(cacheDir, `mediasoup-worker-${version}-${buildId}`, 'mediasoup-worker');

	if (existsSync(cachedBinary)) {
		return;
	}

	// Our own build first: it carries the patches in scripts/mediasoup-worker/.
	const res = spawnSync('bash', [BUILD_SCRIPT], { cwd: ROOT, stdio: 'inherit', env });
	if (res.status === 0 && existsSync(cachedBinary)) {
		return;
	}
	if (existsSync(ownBinary)) {
		log(`using mediasoup's own worker (without this project's patches): ${ownBinary}`);
		return;
	}
	if (!env.SFT_SKIP_PREBUILT) {
		log(`trying mediasoup's prebuilt worker ${version} (needs internet; without this project's patches)`);
		const prebuilt = runMediasoupPostinstall(mediasoupDir, env);
		if (existsSync(ownBinary)) {
			log(`using mediasoup's prebuilt worker: ${ownBinary}`);
			return;
		}
		removeFailedAttemptLeftovers(mediasoupDir);
		const why = prebuilt.error ? prebuilt.error.message : `exit ${prebuilt.status ?? prebuilt.signal}`;
		log(`no prebuilt worker either (${why})`);
	}

	console.error(`[ensure-worker] ${ADVICE}`);
}

/**
 * mediasoup's package root. Its "exports" map hides package.json from
 * require.resolve, so resolve the main entry and walk up to the package.json.
 */
function findMediasoupDir() {
	let dir;
	try {
		dir = dirname(createRequire(import.meta.url).resolve('mediasoup'));
	} catch {
		return undefined;
	}
	for (;;) {
		const pkg = join(dir, 'package.json');
		if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'mediasoup') {
			return dir;
		}
		const parent = dirname(dir);
		if (parent === dir) {
			return undefined;
		}
		dir = parent;
	}
}

/** mediasoup's own postinstall: download the prebuilt worker, else try its own build. */
function runMediasoupPostinstall(mediasoupDir, env) {
	const args = ['npm-scripts.mjs', 'postinstall'];
	const options = {
		cwd: mediasoupDir,
		stdio: 'ignore',
		// An empty value makes mediasoup's script ignore a dangling MEDIASOUP_WORKER_BIN.
		env: { ...env, MEDIASOUP_WORKER_BIN: '' },
	};
	// coreutils `timeout` kills the whole process group (pip, python) on expiry;
	// spawnSync's own timeout would only kill node.
	if (existsSync('/usr/bin/timeout')) {
		const secs = String(PREBUILT_TIMEOUT_MS / 1000);
		return spawnSync('/usr/bin/timeout', ['-k', '5', secs, process.execPath, ...args], {
			...options,
			timeout: PREBUILT_TIMEOUT_MS + 15_000,
		});
	}
	return spawnSync(process.execPath, args, { ...options, timeout: PREBUILT_TIMEOUT_MS });
}

function removeFailedAttemptLeftovers(mediasoupDir) {
	const worker = join(mediasoupDir, 'worker');
	for (const dir of ['out/pip_meson_ninja', 'pip_invoke']) {
		rmSync(join(worker, dir), { recursive: true, force: true });
	}
	for (const dir of ['out/Release', 'out', 'prebuild']) {
		try {
			rmdirSync(join(worker, dir)); // only if empty
		} catch {
			// not there, or not empty: leave it
		}
	}
}

main();
