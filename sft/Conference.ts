import type { types as ms } from 'mediasoup';
import { DemandRelay } from './DemandRelay.ts';
import { type Demand, highestLayer, mergeDemand } from './demand.ts';
import type { MediaRelay, RelayMode, RelayOptions } from './MediaRelay.ts';
import type { MediaWorker } from './MediaWorker.ts';
import { type MediaLimits, Participant, type ParticipantContext, type ParticipantIdentity, type SelectionInput } from './Participant.ts';
import { PipeRelay } from './PipeRelay.ts';
import { layersOf, ownerOf, sourceOf } from './producerMeta.ts';
import { type HintTarget, SenderHints } from './SenderHints.ts';
import type { SocketBuffers } from './socketBuffers.ts';
import { mergeRanking } from './streamSelection.ts';
import { TypedEmitter } from './TypedEmitter.ts';

export type ConferenceCloseReason = 'empty' | 'worker_died' | 'shutdown' | 'closed' | 'anchor_ended';

/**
 * `anchor`: hosts the conference for every domain and lives while anyone,
 * local or federated, remains. `federated`: this SFT's share of a conference
 * anchored elsewhere; it ends when its last local participant leaves.
 */
export type ConferenceRole = 'anchor' | 'federated';

export interface ConferenceOptions {
	id: string;
	role: ConferenceRole;
	/** A conference re-created on another worker keeps its original start. */
	createdAt?: Date | undefined;
	limits: MediaLimits;
	plainListenIp: string;
	announcedAddress?: string | undefined;
	initialOutgoingBitrate: number;
	socketBuffers?: SocketBuffers | undefined;
	/** Audio-level observer period and the dBov level under which a speaker counts as silent. */
	audioLevelIntervalMs: number;
	audioLevelThreshold: number;
}

export interface ActiveSpeaker {
	producerId: string;
	participantId: string;
	/** dBov, 0 loudest, -127 silent. */
	volume: number;
}

type ConferenceEvents = {
	participantJoined: [Participant];
	participantLeft: [Participant];
	producerAdded: [Participant, ms.Producer];
	producerClosed: [Participant, ms.Producer];
	producerPausedChanged: [Participant, ms.Producer, paused: boolean];
	activeSpeakers: [ActiveSpeaker[]];
	/** Which encodings of a local participant's video anyone needs (see SenderHints). */
	encodingsNeeded: [Participant, producerId: string, active: boolean[]];
	/** What viewers need changed (after a short settling delay): federation links report it upstream. */
	demandUpdated: [Demand];
	/** The loudest-first ranking of audio producers changed. */
	audioRankingChanged: [ranking: readonly string[]];
	/** New speaker volumes (every audio-level interval; empty on silence). */
	audioLevels: [levels: ReadonlyMap<string, number>];
	closed: [ConferenceCloseReason];
};

/**
 * Viewers of this conference's streams that are not local clients (a
 * federation link's far side): the layers they need of each producer
 * (`ALL_LAYERS`: every layer).
 */
export type DemandSource = () => Demand;

/** How long demand changes are gathered before senders' hints are recomputed. */
const DEMAND_SETTLE_MS = 20;

/**
 * A conference on one mediasoup router. Owns its participants and the
 * audio-level observer that ranks speakers for the loudest-N rule.
 */
export class Conference extends TypedEmitter<ConferenceEvents> {
	readonly id: string;
	/** When the conference began (kept when it is re-created after its worker died or anchored elsewhere). */
	#createdAt: Date;
	#role: ConferenceRole;
	readonly mediaWorker: MediaWorker;
	readonly router: ms.Router;
	readonly #observer: ms.AudioLevelObserver;
	readonly #options: ConferenceOptions;
	readonly #participants = new Map<string, Participant>();
	readonly #relays = new Set<MediaRelay>();
	/** Every producer of the conference (local and relayed), by id. */
	readonly #producers = new Map<string, ms.Producer>();
	/** Remote-offerable producers in arrival order, per kind. */
	readonly #audioProducers: string[] = [];
	readonly #videoProducers: string[] = [];
	readonly #demandSources = new Set<DemandSource>();
	readonly #hints: SenderHints;
	#demandTimer: NodeJS.Timeout | undefined;
	#ranking: string[] = [];
	#levels: ReadonlyMap<string, number> = new Map();
	#lastSpeakersKey = '';
	#closed = false;

	private constructor(mediaWorker: MediaWorker, router: ms.Router, observer: ms.AudioLevelObserver, options: ConferenceOptions) {
		super();
		this.id = options.id;
		this.#role = options.role;
		this.#createdAt = options.createdAt ?? new Date();
		this.mediaWorker = mediaWorker;
		this.router = router;
		this.#observer = observer;
		this.#options = options;
		this.#hints = new SenderHints((producerId, active) => {
			const producer = this.#producers.get(producerId);
			const owner = producer && this.#participants.get(ownerOf(producer));
			if (owner) this.emit('encodingsNeeded', owner, producerId, active);
		});
		router.observer.once('close', () => this.close(mediaWorker.worker.died ? 'worker_died' : 'closed'));
		observer.on('volumes', (volumes) => this.#onVolumes(volumes));
		observer.on('silence', () => {
			this.#levels = new Map();
			this.emit('audioLevels', this.#levels);
			this.#publishSpeakers([]);
		});
	}

	static async create(mediaWorker: MediaWorker, codecs: ms.RtpCodecCapability[], options: ConferenceOptions): Promise<Conference> {
		const router = await mediaWorker.worker.createRouter({ mediaCodecs: codecs, appData: { conferenceId: options.id } });
		// One more entry than a listener hears: a listener who is among the
		// loudest hears the next one instead of itself.
		const observer = await router.createAudioLevelObserver({
			maxEntries: options.limits.maxAudible + 1,
			threshold: options.audioLevelThreshold,
			interval: options.audioLevelIntervalMs,
		});
		return new Conference(mediaWorker, router, observer, options);
	}

	get closed(): boolean {
		return this.#closed;
	}

	get createdAt(): Date {
		return this.#createdAt;
	}

	/**
	 * Nobody it exists for is left: for an anchor, no participant at all; for
	 * a federated share, no local one.
	 */
	get abandoned(): boolean {
		return (this.#role === 'anchor' ? this.#participants.size : this.localParticipants.length) === 0;
	}

	get participants(): Participant[] {
		return [...this.#participants.values()];
	}

	get rtpCapabilities(): ms.RtpCapabilities {
		return this.router.rtpCapabilities;
	}

	/** A producer of the conference (local or relayed) by id. */
	getProducer(producerId: string): ms.Producer | undefined {
		return this.#producers.get(producerId);
	}

	getParticipant(participantId: string): Participant | undefined {
		return this.#participants.get(participantId);
	}

	/** Current loudest-first speaker ranking (producer ids). */
	/** dBov of the speakers the audio-level observer reported last (the loudest `maxAudible` + 1); the others are quieter. */
	get audioLevels(): ReadonlyMap<string, number> {
		return this.#levels;
	}

	get audioRanking(): readonly string[] {
		return this.#ranking;
	}

	addParticipant(
		userId: string,
		displayName: string,
		rtpCapabilities: ms.RtpCapabilities,
		identity: ParticipantIdentity = {},
	): Participant {
		if (this.#closed) throw new Error('conference is closed');
		const context: ParticipantContext = {
			router: this.router,
			webRtcServer: this.mediaWorker.webRtcServer,
			plainListenIp: this.#options.plainListenIp,
			announcedAddress: this.#options.announcedAddress,
			limits: this.#options.limits,
			initialOutgoingBitrate: this.#options.initialOutgoingBitrate,
			socketBuffers: this.#options.socketBuffers,
			findProducer: (producerId) => this.#producers.get(producerId),
		};
		const participant = new Participant(userId, displayName, rtpCapabilities, context, identity);
		this.#participants.set(participant.id, participant);
		this.mediaWorker.load++;
		participant.on('producerCreated', (producer) => this.#onProducerCreated(participant, producer));
		participant.on('producerClosed', (producer) => this.#onProducerClosed(participant, producer));
		participant.on('demandChanged', () => this.demandChanged());
		participant.once('closed', () => this.#onParticipantClosed(participant));
		void participant.updateSelection(this.#selectionInput());
		this.emit('participantJoined', participant);
		return participant;
	}

	/** A media link to another SFT for this conference; closed with the conference. */
	async createRelay(mode: RelayMode, options: RelayOptions): Promise<MediaRelay> {
		if (this.#closed) throw new Error('conference is closed');
		const relay: MediaRelay =
			mode === 'demand' ? await DemandRelay.create(this.router, options) : await PipeRelay.create(this.router, options);
		this.#relays.add(relay);
		relay.once('closed', () => {
			this.#relays.delete(relay);
			this.demandChanged();
		});
		relay.on('sendingChanged', () => this.demandChanged());
		return relay;
	}

	get role(): ConferenceRole {
		return this.#role;
	}

	/**
	 * Another SFT won the anchor election for this conference: from now on
	 * this one only carries its local participants' share. Clients stay connected.
	 */
	becomeFederated(): void {
		this.#role = 'federated';
	}

	/**
	 * The anchor was lost and this SFT took over (anchor failover): from now
	 * on the conference lives here while anyone remains; it keeps its start.
	 */
	becomeAnchor(createdAt: Date): void {
		this.#role = 'anchor';
		this.#createdAt = createdAt;
	}

	/** Participants connected to this SFT (not mirrored from a federated one). */
	get localParticipants(): Participant[] {
		return this.participants.filter((p) => p.origin === undefined);
	}

	/**
	 * Registers viewers behind something other than a local client (a
	 * federation link); call `demandChanged` when what it returns changes.
	 * Returns the function that removes it again.
	 */
	addDemandSource(source: DemandSource): () => void {
		this.#demandSources.add(source);
		this.demandChanged();
		return () => {
			this.#demandSources.delete(source);
			this.demandChanged();
		};
	}

	/** Something changed what viewers need: senders' hints and links' demand reports follow shortly. */
	demandChanged(): void {
		if (this.#demandTimer || this.#closed) return;
		this.#demandTimer = setTimeout(() => {
			this.#demandTimer = undefined;
			if (this.#closed) return;
			const demand = this.demand();
			this.#hints.update(this.#hintTargets(demand));
			this.emit('demandUpdated', demand);
		}, DEMAND_SETTLE_MS);
		this.#demandTimer.unref();
	}

	/** What everyone (local viewers, relays to other SFTs, demand sources) needs of each video, with ranks. */
	demand(): Demand {
		const demand: Demand = new Map();
		for (const participant of this.#participants.values()) mergeDemand(demand, participant.videoDemand());
		for (const relay of this.#relays) mergeDemand(demand, relay.sentDemand());
		for (const source of this.#demandSources) mergeDemand(demand, source());
		return demand;
	}

	/** The highest spatial layer anyone needs of each video (-1: none), for tests and diagnostics. */
	neededLayers(): Map<string, number> {
		const out = new Map<string, number>();
		for (const [producerId, layers] of this.demand()) {
			const producer = this.#producers.get(producerId);
			out.set(producerId, highestLayer(layers, producer ? layersOf(producer).spatialLayers : 1));
		}
		return out;
	}

	#hintTargets(demand: Demand): HintTarget[] {
		const targets: HintTarget[] = [];
		for (const participant of this.localParticipants) {
			for (const producer of participant.producers) {
				if (producer.kind !== 'video') continue;
				const encodingCount = Math.max(1, producer.rtpParameters.encodings?.length ?? 1);
				targets.push({
					producerId: producer.id,
					encodingCount,
					needed: highestLayer(demand.get(producer.id), layersOf(producer).spatialLayers),
				});
			}
		}
		return targets;
	}

	close(reason: ConferenceCloseReason = 'closed'): void {
		if (this.#closed) return;
		this.#closed = true;
		clearTimeout(this.#demandTimer);
		this.#hints.close();
		for (const relay of this.#relays) relay.close();
		for (const participant of this.#participants.values()) participant.close();
		this.router.close();
		this.emit('closed', reason);
	}

	#onProducerCreated(participant: Participant, producer: ms.Producer): void {
		this.#producers.set(producer.id, producer);
		(producer.kind === 'audio' ? this.#audioProducers : this.#videoProducers).push(producer.id);
		if (producer.kind === 'audio') {
			this.#observer.addProducer({ producerId: producer.id }).catch(() => undefined);
		}
		producer.observer.on('pause', () => this.emit('producerPausedChanged', participant, producer, true));
		producer.observer.on('resume', () => this.emit('producerPausedChanged', participant, producer, false));
		this.#reselect();
		this.emit('producerAdded', participant, producer);
	}

	#onProducerClosed(participant: Participant, producer: ms.Producer): void {
		this.#producers.delete(producer.id);
		this.#hints.forget(producer.id);
		removeItem(producer.kind === 'audio' ? this.#audioProducers : this.#videoProducers, producer.id);
		const ranked = this.#ranking.length;
		this.#ranking = this.#ranking.filter((id) => id !== producer.id);
		if (this.#ranking.length !== ranked) this.emit('audioRankingChanged', this.#ranking);
		this.#reselect();
		this.emit('producerClosed', participant, producer);
	}

	#onParticipantClosed(participant: Participant): void {
		this.#participants.delete(participant.id);
		this.mediaWorker.load--;
		this.emit('participantLeft', participant);
		if (!this.#closed && this.abandoned) this.close('empty');
	}

	#onVolumes(volumes: ms.AudioLevelObserverVolume[]): void {
		this.#levels = new Map(volumes.map((v) => [v.producer.id, v.volume]));
		this.emit('audioLevels', this.#levels);
		const reported = volumes.map((v) => v.producer.id);
		const previous = this.#ranking;
		this.#ranking = mergeRanking(this.#ranking, reported, new Set(this.#audioProducers));
		if (this.#ranking.join() !== previous.join()) this.emit('audioRankingChanged', this.#ranking);
		this.#reselect();
		this.#publishSpeakers(
			volumes.map((v) => ({
				producerId: v.producer.id,
				participantId: String(v.producer.appData['participantId'] ?? ''),
				volume: v.volume,
			})),
		);
	}

	#publishSpeakers(speakers: ActiveSpeaker[]): void {
		// Only tell clients when who is speaking changes, not every interval.
		const key = speakers.map((s) => s.producerId).join(',');
		if (key !== this.#lastSpeakersKey) {
			this.#lastSpeakersKey = key;
			this.emit('activeSpeakers', speakers);
		}
	}

	#selectionInput(): SelectionInput {
		// Screen shares take priority over cameras in the default view.
		const isScreen = (id: string) => {
			const producer = this.#producers.get(id);
			return producer !== undefined && sourceOf(producer) === 'screen';
		};
		const speaker = this.#ranking[0] ? this.#producers.get(this.#ranking[0]) : undefined;
		return {
			audioCandidates: [...this.#audioProducers],
			audioRanking: [...this.#ranking],
			videoCandidates: [...this.#videoProducers.filter(isScreen), ...this.#videoProducers.filter((id) => !isScreen(id))],
			speakerId: speaker ? ownerOf(speaker) : undefined,
		};
	}

	#reselect(): void {
		const input = this.#selectionInput();
		for (const participant of this.#participants.values()) void participant.updateSelection(input);
	}
}

function removeItem(list: string[], item: string): void {
	const index = list.indexOf(item);
	if (index >= 0) list.splice(index, 1);
}
