import { existsSync } from 'node:fs';

/** The malloc the mediasoup worker processes run with. */
export type WorkerAllocator = 'jemalloc' | 'system';

/**
 * jemalloc for a single-threaded worker: one arena, and freed pages handed back
 * to the kernel within about a second (no second, lazy "muzzy" stage). glibc's
 * malloc keeps freed heap pages that live chunks pin, so a worker's RSS climbs
 * to the peak of its load and stays there (RELIABILITY.md §7).
 */
export const JEMALLOC_CONF = 'narenas:1,dirty_decay_ms:1000,muzzy_decay_ms:0';

export interface ResolvedAllocator {
	/** What the workers actually get. */
	name: WorkerAllocator;
	/** Variables the worker is spawned with. */
	env: Record<string, string>;
	/** Set when jemalloc was asked for but its library is not installed. */
	missing?: string;
}

const MULTIARCH: Partial<Record<string, string>> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

/** Where Debian (libjemalloc2), RPM distributions and source installs put the library. */
export function jemallocCandidates(arch: string = process.arch): string[] {
	const multiarch = MULTIARCH[arch];
	return [
		...(multiarch ? [`/usr/lib/${multiarch}/libjemalloc.so.2`] : []),
		'/usr/lib64/libjemalloc.so.2',
		'/usr/lib/libjemalloc.so.2',
		'/usr/local/lib/libjemalloc.so.2',
	];
}

/**
 * The allocator to start workers with. jemalloc is preloaded when its library
 * exists; without it the workers fall back to the system malloc and `missing`
 * says what to install.
 */
export function resolveWorkerAllocator(
	wanted: WorkerAllocator,
	env: NodeJS.ProcessEnv = process.env,
	exists: (path: string) => boolean = existsSync,
): ResolvedAllocator {
	if (wanted === 'system') return { name: 'system', env: {} };
	const library = jemallocCandidates().find(exists);
	if (!library) return { name: 'system', env: {}, missing: 'libjemalloc.so.2 not found (Debian: apt install libjemalloc2)' };
	const preload = env['LD_PRELOAD'] ? `${library}:${env['LD_PRELOAD']}` : library;
	// The operator's own settings (e.g. heap profiling) come after ours, so theirs win.
	const conf = env['MALLOC_CONF'] ? `${JEMALLOC_CONF},${env['MALLOC_CONF']}` : JEMALLOC_CONF;
	return { name: 'jemalloc', env: { LD_PRELOAD: preload, MALLOC_CONF: conf } };
}

/**
 * Runs `spawn` with `vars` added to process.env and puts the environment back
 * before returning. mediasoup's createWorker has no env option but spawns the
 * worker synchronously from process.env, so this scopes the variables to that
 * one child (Node and other children never see them).
 */
export function withSpawnEnv<T>(vars: Record<string, string>, spawn: () => T): T {
	const saved = Object.keys(vars).map((key) => [key, process.env[key]] as const);
	Object.assign(process.env, vars);
	try {
		return spawn();
	} finally {
		for (const [key, value] of saved) {
			if (value === undefined) delete process.env[key];
			else process.env[key] = value;
		}
	}
}
