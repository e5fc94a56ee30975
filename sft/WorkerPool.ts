import type { Logger } from 'pino';
import { MediaWorker, type MediaWorkerOptions } from './MediaWorker.ts';
import type { MediasoupModule } from './mediasoupLoader.ts';
import { TypedEmitter } from './TypedEmitter.ts';

export interface WorkerPoolOptions extends Omit<MediaWorkerOptions, 'index' | 'rtcPort'> {
	/** Number of workers (one per core is the usual choice). */
	size: number;
	/** Worker i serves WebRTC on basePort + i. */
	rtcBasePort: number;
}

type WorkerPoolEvents = {
	/** A worker (a first one or a replacement) is ready for conferences. */
	workerStarted: [MediaWorker];
	/** A worker died; `replacement` already serves its slot (or undefined if respawn failed). */
	workerDied: [dead: MediaWorker, error: Error, replacement: MediaWorker | undefined];
};

/** Owns the mediasoup workers: places load on the least-loaded one and replaces dead ones. */
export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
	readonly #mediasoup: MediasoupModule;
	readonly #options: WorkerPoolOptions;
	readonly #logger: Logger;
	readonly #slots: (MediaWorker | undefined)[];
	#closed = false;

	private constructor(mediasoup: MediasoupModule, options: WorkerPoolOptions, logger: Logger) {
		super();
		this.#mediasoup = mediasoup;
		this.#options = options;
		this.#logger = logger;
		this.#slots = new Array<MediaWorker | undefined>(options.size).fill(undefined);
	}

	static async create(mediasoup: MediasoupModule, options: WorkerPoolOptions, logger: Logger): Promise<WorkerPool> {
		const pool = new WorkerPool(mediasoup, options, logger);
		try {
			for (let index = 0; index < options.size; index++) await pool.#spawn(index);
		} catch (error) {
			pool.close();
			throw error;
		}
		return pool;
	}

	get workers(): MediaWorker[] {
		// A dying worker is closed before its slot is cleared (its routers close first).
		return this.#slots.filter((w): w is MediaWorker => w !== undefined && !w.closed);
	}

	/** The live worker with the fewest participants. */
	leastLoaded(): MediaWorker {
		const candidates = this.workers;
		const best = candidates.reduce<MediaWorker | undefined>((acc, w) => (acc === undefined || w.load < acc.load ? w : acc), undefined);
		if (!best) throw new Error('no mediasoup worker is running');
		return best;
	}

	/** The least-loaded live worker, waiting up to `timeoutMs` for a replacement when none is running. */
	async liveWorker(timeoutMs: number): Promise<MediaWorker> {
		if (this.workers.length > 0) return this.leastLoaded();
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				off();
				reject(new Error('no mediasoup worker came back'));
			}, timeoutMs);
			const off = this.subscribe('workerStarted', (worker) => {
				clearTimeout(timer);
				off();
				resolve(worker);
			});
		});
	}

	close(): void {
		this.#closed = true;
		for (const worker of this.workers) worker.close();
		this.#slots.fill(undefined);
	}

	async #spawn(index: number): Promise<MediaWorker> {
		const worker = await MediaWorker.create(this.#mediasoup, {
			...this.#options,
			index,
			rtcPort: this.#options.rtcBasePort + index,
		});
		this.#slots[index] = worker;
		worker.once('died', (error) => void this.#onDied(worker, error));
		this.#logger.info(
			{ index, pid: worker.pid, port: this.#options.rtcBasePort + index, allocator: this.#options.allocator?.name ?? 'system' },
			'mediasoup worker started',
		);
		this.emit('workerStarted', worker);
		return worker;
	}

	async #onDied(dead: MediaWorker, error: Error): Promise<void> {
		this.#logger.error({ index: dead.index, pid: dead.pid, err: error }, 'mediasoup worker died; replacing it');
		this.#slots[dead.index] = undefined;
		let replacement: MediaWorker | undefined;
		if (!this.#closed) {
			try {
				replacement = await this.#spawn(dead.index);
			} catch (spawnError) {
				this.#logger.error({ index: dead.index, err: spawnError }, 'could not replace mediasoup worker');
			}
		}
		this.emit('workerDied', dead, error, replacement);
	}
}
