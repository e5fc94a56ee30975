import type { types as ms } from 'mediasoup';
import type { Logger } from 'pino';
import type { Conference } from '../../../sft/Conference.ts';
import {
	concreteLayers,
	type Demand,
	type DemandWire,
	demandFromWire,
	demandToWire,
	type LayerDemand,
	sameDemand,
} from '../../../sft/demand.ts';
import { planLinkBudget } from '../../../sft/linkBudget.ts';
import type { MediaRelay } from '../../../sft/MediaRelay.ts';
import { layersOf } from '../../../sft/producerMeta.ts';
import { selectAudible } from '../../../sft/streamSelection.ts';
import { LayerBitrates } from './layerBitrates.ts';

/** Demand reports to the partner are at least this far apart (the latest state is sent when the interval ends). */
export const DEMAND_REPORT_INTERVAL_MS = 100;
/** How often per-layer bitrates are polled for the link cap and the needed-bitrate metric. */
const BITRATE_POLL_MS = 1000;
/** Speaker levels are reported in steps of this many dB. */
const AUDIO_LEVEL_STEP_DB = 3;
/** The level of a speaker the audio-level observer did not report (quieter than everyone it did). */
const SILENT_DBOV = -127;
/** A requested layer whose first key frame does not arrive within this is counted as a timeout. */
const FIRST_FRAME_TIMEOUT_MS = 10_000;

export interface LinkDemandOptions {
	/** Loudest speakers a client hears: this many plus one cross the link. */
	maxAudible: number;
	/** Cap on what this side sends over the link, bit/s (none: unlimited). */
	maxBitrate?: number | undefined;
}

/** What the link has done, read by LinkMetrics. */
export interface LinkDemandStats {
	/** Layers started or stopped because of the partner's demand (or the cap). */
	switches: number;
	/** Time from our demand for a layer to its first key frame arriving here, ms; drained by the reader. */
	firstFrameMs: number[];
	/** First frames timed so far (not drained). */
	firstFrames: number;
	firstFrameTimeouts: number;
	/** Sent video streams that currently cross at no layer. */
	heldBack: number;
	/** Video streams and layers crossing now, by spatial layer; audio streams crossing. */
	relayedVideoLayers: Map<number, number>;
	relayedAudio: number;
	/** Streams (audio and video) crossing at some layer now. */
	crossingStreams: number;
	/** Bit/s the partner's demand asks for (before the cap) and what the cap sheds of it. */
	neededBitrate: number;
	shedBitrate: number;
}

/**
 * The demand half of a ConferenceLink. In mode `full` it only reports and
 * measures (so operators see what remote viewers need next to what crosses);
 * in mode `demand` it also decides what crosses.
 * Sender side: applies the partner's demand (and this side's cap) to the
 * relay: which layers of which videos cross, and which speakers (those the
 * loudest-N rule could make audible over there, given how loud the
 * partner's own speakers are). Receiver side: tells the
 * partner, rate-limited, what this side's viewers (and links beyond it)
 * need of the partner's streams, and times the first frame of each layer it asked for.
 */
export class LinkDemand {
	readonly stats: LinkDemandStats = {
		switches: 0,
		firstFrameMs: [],
		firstFrames: 0,
		firstFrameTimeouts: 0,
		heldBack: 0,
		relayedVideoLayers: new Map(),
		relayedAudio: 0,
		crossingStreams: 0,
		neededBitrate: 0,
		shedBitrate: 0,
	};
	readonly #conference: Conference;
	readonly #relay: MediaRelay;
	readonly #send: (report: { video: DemandWire; audio: number[] }) => Promise<unknown>;
	readonly #options: LinkDemandOptions;
	readonly #logger: Logger;
	readonly #bitrates = new LayerBitrates();
	readonly #unsubscribe: (() => void)[] = [];
	/** What the partner needs of our streams. */
	#remote: Demand = new Map();
	/** How loud the partner's own loudest speakers are (undefined: not told yet). */
	#remoteAudio: number[] | undefined;
	/** What crosses now, per sent producer (video layers; audio: layer 0). */
	#crossing = new Map<string, LayerDemand>();
	#applying: Promise<void> = Promise.resolve();
	#lastShed = '';
	/** Our last report to the partner, when it went, and a pending trailing report. */
	#reported: Demand = new Map();
	#reportedAudio: number[] = [];
	#reportedAt = 0;
	#reportTimer: NodeJS.Timeout | undefined;
	/** `producerId:layer` → when we first asked for it. */
	readonly #awaitingFirstFrame = new Map<string, number>();
	readonly #pollTimer: NodeJS.Timeout;
	#closed = false;

	constructor(
		conference: Conference,
		relay: MediaRelay,
		send: (report: { video: DemandWire; audio: number[] }) => Promise<unknown>,
		options: LinkDemandOptions,
		logger: Logger,
	) {
		this.#conference = conference;
		this.#relay = relay;
		this.#send = send;
		this.#options = options;
		this.#logger = logger;
		this.#unsubscribe.push(
			conference.subscribe('demandUpdated', (demand) => this.#report(demand)),
			conference.subscribe('audioLevels', () => this.#report(conference.demand())),
			conference.subscribe('audioRankingChanged', () => this.#applyOut()),
		);
		this.#pollTimer = setInterval(() => void this.#poll(), BITRATE_POLL_MS);
		this.#pollTimer.unref();
	}

	/** The partner's demand arrived. */
	onRemoteDemand(wire: DemandWire, audio: readonly number[]): void {
		this.#remote = demandFromWire(wire);
		this.#remoteAudio = [...audio];
		this.#applyOut();
	}

	/** A stream of ours is now offered on the relay: apply current demand to it. */
	producerSent(): void {
		this.#applyOut();
	}

	/** A stream of the partner's arrived here: watch for key frames (first-frame timing) and report demand for it. */
	producerReceived(producer: ms.Producer): void {
		if (producer.kind !== 'video') return;
		const ssrcs = (producer.rtpParameters.encodings ?? []).map((e) => e.ssrc);
		producer.on('trace', (trace) => {
			if (trace.type !== 'keyframe') return;
			const info = trace.info as { rtpPacket?: { ssrc?: number }; ssrc?: number } | undefined;
			const layer = ssrcs.indexOf(info?.rtpPacket?.ssrc ?? info?.ssrc);
			this.#firstFrame(producer.id, Math.max(0, layer));
		});
		void producer.enableTraceEvent(['keyframe']).catch(() => undefined);
		this.#report(this.#conference.demand());
	}

	close(): void {
		this.#closed = true;
		clearInterval(this.#pollTimer);
		clearTimeout(this.#reportTimer);
		for (const off of this.#unsubscribe.splice(0)) off();
	}

	// --- receiver side: tell the partner what we need --------------------------------

	#report(demand: Demand): void {
		if (this.#closed) return;
		const wanted = this.#wantedFromPartner(demand);
		const audio = this.#ourLoudest();
		if (sameDemand(wanted, this.#reported) && audio.join() === this.#reportedAudio.join()) return;
		const wait = this.#reportedAt + DEMAND_REPORT_INTERVAL_MS - Date.now();
		if (wait > 0) {
			this.#reportTimer ??= setTimeout(() => {
				this.#reportTimer = undefined;
				this.#report(this.#conference.demand());
			}, wait);
			return;
		}
		const now = Date.now();
		for (const [producerId, layers] of wanted) {
			for (const layer of layers.keys()) {
				if (!this.#reported.get(producerId)?.has(layer)) this.#awaitingFirstFrame.set(`${producerId}:${layer}`, now);
			}
		}
		for (const [producerId, layers] of this.#reported) {
			for (const layer of layers.keys()) if (!wanted.get(producerId)?.has(layer)) this.#awaitingFirstFrame.delete(`${producerId}:${layer}`);
		}
		this.#reported = wanted;
		this.#reportedAudio = audio;
		this.#reportedAt = now;
		this.#send({ video: demandToWire(wanted), audio }).catch((error: unknown) => {
			// Lost with the link; the next link sends the full state again.
			this.#logger.debug({ err: error }, 'could not send demand to federated SFT');
		});
	}

	/** Our demand restricted to the partner's streams, in their real layers. */
	#wantedFromPartner(demand: Demand): Demand {
		const wanted: Demand = new Map();
		for (const producer of this.#relay.receivedProducers) {
			const layers = demand.get(producer.id);
			if (producer.kind !== 'video' || !layers) continue;
			const concrete = concreteLayers(layers, layersOf(producer).spatialLayers);
			if (concrete.size > 0) wanted.set(producer.id, concrete);
		}
		return wanted;
	}

	/**
	 * dBov of this side's loudest speakers that did not come from the partner
	 * (the maxAudible + 1 loudest, in 3 dB steps so small wobbles send nothing).
	 */
	#ourLoudest(): number[] {
		const fromPartner = new Set(this.#relay.receivedProducers.map((p) => p.id));
		return [...this.#conference.audioLevels]
			.filter(([producerId]) => !fromPartner.has(producerId))
			.map(([, level]) => Math.round(level / AUDIO_LEVEL_STEP_DB) * AUDIO_LEVEL_STEP_DB)
			.sort((a, b) => b - a)
			.slice(0, this.#options.maxAudible + 1);
	}

	#firstFrame(producerId: string, layer: number): void {
		const key = `${producerId}:${layer}`;
		const askedAt = this.#awaitingFirstFrame.get(key);
		if (askedAt === undefined) return;
		this.#awaitingFirstFrame.delete(key);
		this.stats.firstFrameMs.push(Date.now() - askedAt);
		this.stats.firstFrames++;
	}

	// --- sender side: relay what the partner needs -----------------------------------

	#applyOut(): void {
		this.#applying = this.#applying
			.then(() => this.#applyNow())
			.catch((error: unknown) => {
				this.#logger.warn({ err: error }, 'could not apply federation demand');
			});
	}

	async #applyNow(): Promise<void> {
		if (this.#closed || this.#relay.closed) return;
		const sent = new Map(
			this.#relay.sentProducerIds.flatMap((id) => {
				const producer = this.#conference.getProducer(id);
				return producer ? [[id, producer] as const] : [];
			}),
		);
		const videos = [...sent.values()].filter((p) => p.kind === 'video');
		const audios = [...sent.values()].filter((p) => p.kind === 'audio');
		const demanded: Demand = new Map();
		for (const producer of videos) {
			const layers = this.#remote.get(producer.id);
			if (layers) demanded.set(producer.id, concreteLayers(layers, layersOf(producer).spatialLayers));
		}
		const audible = this.#audibleOverThere(audios.map((p) => p.id));
		const bitrate = (producerId: string, layer: number) => {
			const producer = sent.get(producerId);
			return producer ? this.#bitrates.get(producer, layer) : 0;
		};
		const audioBitrate = [...audible].reduce((sum, id) => sum + bitrate(id, 0), 0);
		let needed = audioBitrate;
		for (const [producerId, layers] of demanded) for (const layer of layers.keys()) needed += bitrate(producerId, layer);
		const full = this.#relay.mode === 'full';
		let crossing = demanded;
		this.stats.shedBitrate = 0;
		if (this.#options.maxBitrate !== undefined && !full) {
			const plan = planLinkBudget({ demand: demanded, bitrate, fixedBitrate: audioBitrate, maxBitrate: this.#options.maxBitrate });
			crossing = plan.demand;
			this.stats.shedBitrate = plan.shedBitrate;
			const shedKey = plan.shed.join('; ');
			if (shedKey !== this.#lastShed) {
				this.#lastShed = shedKey;
				if (plan.shed.length > 0 || plan.overCap) {
					this.#logger.warn(
						{ maxBitrate: this.#options.maxBitrate, neededBitrate: needed, shed: plan.shed, overCap: plan.overCap },
						'federation link over its cap: shedding layers',
					);
				} else this.#logger.info({ maxBitrate: this.#options.maxBitrate }, 'federation link back under its cap: nothing shed');
			}
		}
		this.stats.neededBitrate = needed;
		const next = new Map<string, LayerDemand>();
		// Full mode: everything crosses whatever the partner needs; the demand only feeds the metrics.
		const everything = (producer: ms.Producer): LayerDemand =>
			new Map(Array.from({ length: layersOf(producer).spatialLayers }, (_, layer) => [layer, 'large']));
		for (const producer of videos) next.set(producer.id, full ? everything(producer) : (crossing.get(producer.id) ?? new Map()));
		for (const producer of audios) next.set(producer.id, full || audible.has(producer.id) ? new Map([[0, 'focus']]) : new Map());
		await Promise.all(
			[...next].map(async ([producerId, layers]) => {
				const before = this.#crossing.get(producerId);
				const changed =
					[...layers.keys()].filter((l) => !before?.has(l)).length + [...(before?.keys() ?? [])].filter((l) => !layers.has(l)).length;
				this.stats.switches += changed;
				await this.#relay.setLayers(producerId, layers);
			}),
		);
		this.#crossing = next;
		this.#countCrossing(videos, audios);
	}

	/**
	 * The speakers we offer that could be among the maxAudible + 1 loudest
	 * over there: in our ranking order, each one needs fewer than that many
	 * louder speakers, counting the partner's own (it reports their levels).
	 */
	#audibleOverThere(candidates: readonly string[]): Set<string> {
		const slots = this.#options.maxAudible + 1;
		const ordered = [...selectAudible(candidates, this.#conference.audioRanking, candidates.length)];
		if (!this.#remoteAudio) return new Set(ordered.slice(0, slots));
		const levels = this.#conference.audioLevels;
		const partner = this.#remoteAudio;
		const audible = new Set<string>();
		for (const [position, producerId] of ordered.entries()) {
			if (position >= slots) break;
			const level = levels.get(producerId) ?? SILENT_DBOV;
			const louderThere = partner.filter((theirs) => theirs > level).length;
			if (position + louderThere < slots) audible.add(producerId);
		}
		return audible;
	}

	#countCrossing(videos: ms.Producer[], audios: ms.Producer[]): void {
		const byLayer = new Map<number, number>();
		let heldBack = 0;
		for (const producer of videos) {
			const layers = this.#crossing.get(producer.id);
			if (!layers || layers.size === 0) heldBack++;
			for (const layer of layers?.keys() ?? []) byLayer.set(layer, (byLayer.get(layer) ?? 0) + 1);
		}
		this.stats.relayedVideoLayers = byLayer;
		this.stats.heldBack = heldBack;
		this.stats.relayedAudio = audios.filter((p) => (this.#crossing.get(p.id)?.size ?? 0) > 0).length;
		this.stats.crossingStreams = videos.length - heldBack + this.stats.relayedAudio;
	}

	async #poll(): Promise<void> {
		if (this.#closed) return;
		const now = Date.now();
		for (const [key, askedAt] of this.#awaitingFirstFrame) {
			if (now - askedAt > FIRST_FRAME_TIMEOUT_MS) {
				this.#awaitingFirstFrame.delete(key);
				this.stats.firstFrameTimeouts++;
			}
		}
		const sent = this.#relay.sentProducerIds.flatMap((id) => this.#conference.getProducer(id) ?? []);
		await this.#bitrates.refresh(sent);
		// Bitrates moved: the cap may need more (or less) shedding, and the needed figure follows.
		this.#applyOut();
	}
}
