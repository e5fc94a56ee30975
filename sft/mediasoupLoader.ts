import { spawnSync } from 'node:child_process';
import type * as Mediasoup from 'mediasoup';
import { resolveWorkerBinary } from './workerBinary.ts';

export type MediasoupModule = typeof Mediasoup;

let loaded: Promise<MediasoupModule> | undefined;

const SIGNAL_GUARD = new URL('./worker-signal-guard.sh', import.meta.url).pathname;

/**
 * Loads mediasoup once, after pointing it at a worker binary.
 * mediasoup reads MEDIASOUP_WORKER_BIN when its module is evaluated, so the
 * import must be dynamic and happen after the binary is resolved; a missing
 * binary then fails here with one clear sentence instead of at spawn time.
 * Workers are started through a guard that blocks SIGINT/SIGTERM in them
 * (where `env --block-signal` exists): only the Node process decides when
 * they stop, so a signal to the process group drains instead of killing media.
 */
export function loadMediasoup(): Promise<MediasoupModule> {
	if (!loaded) {
		// A child process of ours inherits the guard as MEDIASOUP_WORKER_BIN: keep wrapping the real binary.
		const inherited = process.env['MEDIASOUP_WORKER_BIN'] === SIGNAL_GUARD ? process.env['MEDIASOUP_WORKER_REAL_BIN'] : undefined;
		const binary = inherited ?? resolveWorkerBinary();
		if (canBlockSignals()) {
			process.env['MEDIASOUP_WORKER_REAL_BIN'] = binary;
			process.env['MEDIASOUP_WORKER_BIN'] = SIGNAL_GUARD;
		} else {
			process.env['MEDIASOUP_WORKER_BIN'] = binary;
		}
		loaded = import('mediasoup');
	}
	return loaded;
}

/** GNU env 8.31+ can start a program with signals blocked. */
function canBlockSignals(): boolean {
	return spawnSync('env', ['--block-signal=INT,TERM', 'true']).status === 0;
}
