import type * as Mediasoup from 'mediasoup';
import { resolveWorkerBinary } from './workerBinary.ts';

export type MediasoupModule = typeof Mediasoup;

let loaded: Promise<MediasoupModule> | undefined;

/**
 * Loads mediasoup once, after pointing it at a worker binary.
 * mediasoup reads MEDIASOUP_WORKER_BIN when its module is evaluated, so the
 * import must be dynamic and happen after the binary is resolved; a missing
 * binary then fails here with one clear sentence instead of at spawn time.
 */
export function loadMediasoup(): Promise<MediasoupModule> {
	if (!loaded) {
		process.env['MEDIASOUP_WORKER_BIN'] = resolveWorkerBinary();
		loaded = import('mediasoup');
	}
	return loaded;
}
