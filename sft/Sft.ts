import type { types as ms } from 'mediasoup';
import type { Logger } from 'pino';
import { Conference, type ConferenceOptions, type ConferenceRole } from './Conference.ts';
import { MediaError } from './MediaError.ts';
import { mediaCodecs } from './mediaCodecs.ts';
import { loadMediasoup } from './mediasoupLoader.ts';
import type { MediaLimits } from './Participant.ts';
import type { SocketBuffers } from './socketBuffers.ts';
import { TypedEmitter } from './TypedEmitter.ts';
import { WorkerPool } from './WorkerPool.ts';
import type { ResolvedAllocator } from './workerAllocator.ts';

export interface SftOptions {
	workers: number;
	listenIp: string;
	announcedAddress?: string | undefined;
	rtcBasePort: number;
	rtcMinPort: number;
	rtcMaxPort: number;
	logLevel: ms.WorkerLogLevel;
	limits: MediaLimits;
	initialOutgoingBitrate: number;
	audioLevelIntervalMs: number;
	audioLevelThreshold: number;
	/** UDP buffer sizes of media sockets (WebRTC port, plain transports). */
	socketBuffers?: SocketBuffers | undefined;
	/** The malloc the workers run with (system when absent). */
	allocator?: ResolvedAllocator | undefined;
}

type SftEvents = {
	conferenceCreated: [Conference];
	conferenceClosed: [Conference, reason: string];
	/** A conference whose worker died lives again on a live worker (same id, role and start); its clients must re-establish media. */
	conferenceRestarted: [fresh: Conference, dead: Conference];
};

/** How long a re-created conference waits for a live worker, and then for anyone to come back to it. */
const RESTART_WORKER_TIMEOUT_MS = 10_000;
const RESTART_ABANDON_MS = 10_000;

/**
 * The media plane of one domain: a worker pool and the conferences on it.
 * Knows nothing of signalling; callers drive it through this object model.
 */
export class Sft extends TypedEmitter<SftEvents> {
	readonly pool: WorkerPool;
	readonly rtpCapabilities: ms.RtpCapabilities;
	readonly #options: SftOptions;
	readonly #conferences = new Map<string, Conference>();
	/** Creations in flight, so two joins racing on one id get one conference. */
	readonly #creating = new Map<string, Promise<Conference>>();
	/** Re-creations after a worker death, in flight. */
	readonly #restarting = new Map<string, Promise<Conference>>();
	#closed = false;
	#draining = false;

	private constructor(pool: WorkerPool, rtpCapabilities: ms.RtpCapabilities, options: SftOptions) {
		super();
		this.pool = pool;
		this.rtpCapabilities = rtpCapabilities;
		this.#options = options;
	}

	static async create(options: SftOptions, logger: Logger): Promise<Sft> {
		const mediasoup = await loadMediasoup();
		const pool = await WorkerPool.create(mediasoup, { size: options.workers, ...options }, logger);
		// Every router gets the same codec list, so one probe router tells
		// clients the capabilities of all of them before they join.
		const probe = await pool.leastLoaded().worker.createRouter({ mediaCodecs });
		const rtpCapabilities = probe.rtpCapabilities;
		probe.close();
		return new Sft(pool, rtpCapabilities, options);
	}

	get conferences(): Conference[] {
		return [...this.#conferences.values()];
	}

	get limits(): MediaLimits {
		return this.#options.limits;
	}

	get draining(): boolean {
		return this.#draining;
	}

	getConference(id: string): Conference | undefined {
		return this.#conferences.get(id);
	}

	/**
	 * The conference, or the one being created or re-created under that id
	 * (after a worker death), once it exists; undefined if there is none.
	 */
	async findConference(id: string): Promise<Conference | undefined> {
		return this.#conferences.get(id) ?? this.#creating.get(id)?.catch(() => undefined);
	}

	/** The re-creation of a conference whose worker just died, while it is under way. */
	restartOf(id: string): Promise<Conference> | undefined {
		return this.#restarting.get(id);
	}

	/** Returns the conference, creating it on the least-loaded worker if needed. */
	async getOrCreateConference(id: string, role: ConferenceRole = 'anchor'): Promise<Conference> {
		const existing = this.#conferences.get(id);
		if (existing) return existing;
		const pending = this.#creating.get(id);
		if (pending) return pending;
		if (this.#draining) throw new MediaError('server_draining', 'this SFT is shutting down and accepts no new conferences');
		const creation = this.#createConference(id, role).finally(() => this.#creating.delete(id));
		this.#creating.set(id, creation);
		return creation;
	}

	/** Stop accepting new conferences; running ones continue. */
	startDraining(): void {
		this.#draining = true;
	}

	close(): void {
		this.#closed = true;
		for (const conference of this.#conferences.values()) conference.close('shutdown');
		this.pool.close();
	}

	async #createConference(id: string, role: ConferenceRole, previous?: Conference): Promise<Conference> {
		const options: ConferenceOptions = {
			id,
			role,
			createdAt: previous?.createdAt,
			limits: this.#options.limits,
			plainListenIp: this.#options.listenIp,
			announcedAddress: this.#options.announcedAddress,
			initialOutgoingBitrate: this.#options.initialOutgoingBitrate,
			audioLevelIntervalMs: this.#options.audioLevelIntervalMs,
			audioLevelThreshold: this.#options.audioLevelThreshold,
			socketBuffers: this.#options.socketBuffers,
		};
		const worker = previous ? await this.pool.liveWorker(RESTART_WORKER_TIMEOUT_MS) : this.pool.leastLoaded();
		const conference = await Conference.create(worker, mediaCodecs, options);
		this.#conferences.set(id, conference);
		conference.once('closed', (reason) => {
			this.#conferences.delete(id);
			// Registered before anyone else's 'closed' listener: they can find the re-creation under way.
			if (reason === 'worker_died' && !this.#closed && !this.#draining) this.#restart(conference);
			this.emit('conferenceClosed', conference, reason);
		});
		this.emit('conferenceCreated', conference);
		return conference;
	}

	/** Re-creates a conference whose worker died on a live worker; clients and links come back to it. */
	#restart(dead: Conference): void {
		const id = dead.id;
		const restart = this.#createConference(id, dead.role, dead).finally(() => {
			this.#creating.delete(id);
			this.#restarting.delete(id);
		});
		this.#creating.set(id, restart);
		this.#restarting.set(id, restart);
		restart.then(
			(fresh) => {
				this.emit('conferenceRestarted', fresh, dead);
				// Nobody came back (every client left meanwhile): do not keep an empty router.
				setTimeout(() => {
					if (!fresh.closed && fresh.abandoned) fresh.close('empty');
				}, RESTART_ABANDON_MS).unref();
			},
			() => undefined,
		);
	}
}
