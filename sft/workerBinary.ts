import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the mediasoup-worker binary comes from, in order (the same order as
 * scripts/ensure-worker.mjs, which puts one there at `npm install`):
 *   1. $MEDIASOUP_WORKER_BIN, if that file exists;
 *   2. the offline build of scripts/build-mediasoup-worker.sh in the cache
 *      (with this project's patches, scripts/mediasoup-worker/);
 *   3. mediasoup's own worker/out/Release/mediasoup-worker (prebuilt download, unpatched).
 */

const BUILD_DEPS =
	'g++ meson ninja-build pkg-config libuv1-dev libssl-dev libsrtp2-dev libusrsctp-dev libabsl-dev libflatbuffers-dev flatbuffers-compiler';

export class WorkerBinaryMissingError extends Error {
	constructor() {
		super(
			`No mediasoup worker binary found: run \`npm install\` (needs the Debian packages ${BUILD_DEPS}) ` +
				'or set MEDIASOUP_WORKER_BIN to a mediasoup-worker binary.',
		);
		this.name = 'WorkerBinaryMissingError';
	}
}

/** Names the set of patches in scripts/mediasoup-worker/, so a changed patch set is built anew. */
const BUILD_ID_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', 'scripts', 'mediasoup-worker', 'build-id');

/** `${SFT_CACHE_DIR:-$HOME/.cache/federated-sft}/mediasoup-worker-<version>-<build id>/mediasoup-worker` */
export function workerCachePath(version: string, env: NodeJS.ProcessEnv = process.env): string {
	const cacheDir = env['SFT_CACHE_DIR'] || join(env['HOME'] || homedir(), '.cache', 'federated-sft');
	const buildId = existsSync(BUILD_ID_FILE) ? readFileSync(BUILD_ID_FILE, 'utf8').trim() : 'unknown';
	return join(cacheDir, `mediasoup-worker-${version}-${buildId}`, 'mediasoup-worker');
}

/** Absolute path of a mediasoup-worker binary that exists, or throws WorkerBinaryMissingError. */
export function resolveWorkerBinary(env: NodeJS.ProcessEnv = process.env): string {
	const fromEnv = env['MEDIASOUP_WORKER_BIN'];
	if (fromEnv && existsSync(fromEnv)) {
		return fromEnv;
	}

	const mediasoup = findMediasoupPackage();
	if (mediasoup) {
		// Our patched build first; mediasoup's own (prebuilt) worker only without it.
		const cached = workerCachePath(mediasoup.version, env);
		if (existsSync(cached)) {
			return cached;
		}
		const own = join(mediasoup.dir, 'worker', 'out', 'Release', 'mediasoup-worker');
		if (existsSync(own)) {
			return own;
		}
	}

	throw new WorkerBinaryMissingError();
}

interface MediasoupPackage {
	dir: string;
	version: string;
}

/**
 * mediasoup's package root and version. Its "exports" map hides package.json
 * from require.resolve('mediasoup/package.json'), so resolve the main entry
 * and walk up to the package.json.
 */
function findMediasoupPackage(): MediasoupPackage | undefined {
	let dir: string;
	try {
		dir = dirname(createRequire(import.meta.url).resolve('mediasoup'));
	} catch {
		return undefined;
	}
	for (;;) {
		const pkgPath = join(dir, 'package.json');
		if (existsSync(pkgPath)) {
			const pkg: unknown = JSON.parse(readFileSync(pkgPath, 'utf8'));
			if (isMediasoupManifest(pkg)) {
				return { dir, version: pkg.version };
			}
		}
		const parent = dirname(dir);
		if (parent === dir) {
			return undefined;
		}
		dir = parent;
	}
}

function isMediasoupManifest(pkg: unknown): pkg is { name: 'mediasoup'; version: string } {
	if (typeof pkg !== 'object' || pkg === null) {
		return false;
	}
	const { name, version } = pkg as { name?: unknown; version?: unknown };
	return name === 'mediasoup' && typeof version === 'string';
}
