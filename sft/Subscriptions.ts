import type { types as ms } from 'mediasoup';
import { addDemand, type Demand } from './demand.ts';
import { MediaError } from './MediaError.ts';
import { layersOf, ownerOf, sourceOf } from './producerMeta.ts';
import {
	type MediaSource,
	type ProducerLayers,
	rankPriority,
	spatialLayerFor,
	type TileRank,
	tileRank,
	type ViewTile,
} from './simulcast.ts';
import { StarvationFallback } from './starvationFallback.ts';
import { selectAudible, selectVisible } from './streamSelection.ts';
import { TypedEmitter } from './TypedEmitter.ts';

/** Remote streams the conference offers, in arrival order, plus the audio ranking and who speaks loudest. */
export interface SelectionInput {
	audioCandidates: readonly string[];
	audioRanking: readonly string[];
	/** Screen shares first, then cameras, each in arrival order. */
	videoCandidates: readonly string[];
	/** Participant whose audio ranks first: their camera is a focus tile. */
	speakerId?: string | undefined;
}

export interface ConsumerLayers {
	spatialLayer: number | null;
	temporalLayer: number | null;
}

interface Entry {
	consumer: ms.Consumer;
	source: MediaSource;
	ownerId: string;
	/** Layers of the producer; undefined for audio and single-layer video (nothing to choose). */
	layers: ProducerLayers | undefined;
	/** The client asked for it to be paused (or has not resumed it yet). */
	clientPaused: boolean;
	/** What was last requested from mediasoup. */
	target: Target;
	/** Requests to mediasoup run one after another, so the last decision wins. */
	applying: Promise<void>;
	/** Simulcast only: asks for the lowest layer too while the viewer's estimate fits nothing that arrives. */
	fallback?: StarvationFallback;
}

/** A consumer's wanted state: flowing or not; for layered video, its preferred spatial layer and bandwidth priority. */
interface Target {
	paused: boolean;
	spatialLayer: number;
	priority: number;
	rank: TileRank;
}

type SubscriptionsEvents = {
	consumerClosed: [consumerId: string, producerId: string];
	consumerPausedChanged: [consumerId: string, paused: boolean];
	consumerLayersChanged: [consumerId: string, producerId: string, layers: ConsumerLayers];
	/** The layers this viewer needs from some producer changed (see `demand`). */
	demandChanged: [];
};

/**
 * What one viewer receives: its consumers, which of them flow (its view and
 * the loudest-N rule) and, for simulcast and SVC streams, the layer each one
 * should carry (the tile's size) and its rank when the viewer's bandwidth
 * estimate cannot carry everything.
 */
export class Subscriptions extends TypedEmitter<SubscriptionsEvents> {
	readonly #entries = new Map<string, Entry>();
	readonly #maxVideos: number;
	readonly #maxAudible: number;
	readonly #isOwn: (producerId: string) => boolean;
	#tiles: Map<string, ViewTile> | undefined;
	#selection: SelectionInput = { audioCandidates: [], audioRanking: [], videoCandidates: [] };
	#selected = { audio: new Set<string>(), video: new Set<string>() };

	constructor(limits: { maxVideos: number; maxAudible: number }, isOwn: (producerId: string) => boolean) {
		super();
		this.#maxVideos = limits.maxVideos;
		this.#maxAudible = limits.maxAudible;
		this.#isOwn = isOwn;
	}

	get consumers(): ms.Consumer[] {
		return [...this.#entries.values()].map((e) => e.consumer);
	}

	has(producerId: string): boolean {
		for (const entry of this.#entries.values()) if (entry.consumer.producerId === producerId) return true;
		return false;
	}

	/** The preferred layers a new consumer of `producer` should start with (undefined: not layered). */
	initialLayers(producer: ms.Producer): { spatialLayer: number; temporalLayer: number } | undefined {
		if (producer.kind !== 'video') return undefined;
		const layers = layersOf(producer);
		if (layers.spatialLayers <= 1 && layers.temporalLayers <= 1) return undefined;
		return { spatialLayer: spatialLayerFor(layers, this.#tiles?.get(producer.id)?.size), temporalLayer: layers.temporalLayers - 1 };
	}

	/** Takes over a consumer created paused; it flows once the client resumes it and selection allows. */
	add(consumer: ms.Consumer, producer: ms.Producer): void {
		const layered = consumer.type === 'simulcast' || consumer.type === 'svc';
		const entry: Entry = {
			consumer,
			source: sourceOf(producer),
			ownerId: ownerOf(producer),
			layers: layered ? layersOf(producer) : undefined,
			clientPaused: true,
			target: { paused: true, spatialLayer: consumer.preferredLayers?.spatialLayer ?? -1, priority: 1, rank: 'large' },
			applying: Promise.resolve(),
		};
		if (consumer.type === 'simulcast')
			entry.fallback = new StarvationFallback(
				consumer,
				() => entry.target,
				() => this.emit('demandChanged'),
			);
		this.#entries.set(consumer.id, entry);
		consumer.observer.once('close', () => {
			entry.fallback?.close();
			this.#entries.delete(consumer.id);
			this.emit('consumerClosed', consumer.id, consumer.producerId);
			this.emit('demandChanged');
		});
		consumer.on('producerclose', () => consumer.close());
		// The worker reports the producer's end later; a producer re-created under the same id
		// (a federation link that came back) must find no stale consumer in the way.
		const onProducerClosed = () => consumer.close();
		producer.observer.once('close', onProducerClosed);
		consumer.observer.once('close', () => producer.observer.off('close', onProducerClosed));
		consumer.on('layerschange', (layers) =>
			this.emit('consumerLayersChanged', consumer.id, consumer.producerId, {
				spatialLayer: layers?.spatialLayer ?? null,
				temporalLayer: layers?.temporalLayer ?? null,
			}),
		);
	}

	async setClientPaused(consumerId: string, paused: boolean): Promise<void> {
		const entry = this.#entries.get(consumerId);
		if (!entry) throw new MediaError('unknown_consumer', `no consumer ${consumerId}`);
		entry.clientPaused = paused;
		await this.#apply(entry);
		this.emit('demandChanged');
	}

	/** The remote videos this viewer shows, each with the size it is drawn at (none: as large as possible). */
	async setView(tiles: readonly ViewTile[]): Promise<void> {
		const unique = new Map<string, ViewTile>();
		for (const tile of tiles) if (!unique.has(tile.producerId)) unique.set(tile.producerId, tile);
		if (unique.size > this.#maxVideos) throw new MediaError('view_too_large', `a view holds at most ${this.#maxVideos} videos`);
		this.#tiles = unique;
		await this.#applyAll();
	}

	/** Called whenever the conference's streams or speaker ranking change. */
	async update(selection: SelectionInput): Promise<void> {
		this.#selection = selection;
		await this.#applyAll();
	}

	isSelected(producerId: string, kind: ms.MediaKind): boolean {
		return this.#selected[kind].has(producerId);
	}

	/**
	 * The spatial layer this viewer needs of each video it receives (0 for a
	 * single-layer stream) and how the tile ranks, plus the lowest layer of a
	 * simulcast stream its bandwidth estimate fits no arriving layer of.
	 * Paused and unselected streams are absent.
	 */
	demand(): Demand {
		const out: Demand = new Map();
		for (const entry of this.#entries.values()) {
			if (entry.consumer.kind !== 'video' || entry.target.paused) continue;
			addDemand(out, entry.consumer.producerId, Math.max(0, entry.target.spatialLayer), entry.target.rank);
			if (entry.fallback?.active) addDemand(out, entry.consumer.producerId, 0, entry.target.rank);
		}
		return out;
	}

	#computeSelected(): void {
		const notOwn = (id: string) => !this.#isOwn(id);
		const { audioCandidates, audioRanking, videoCandidates } = this.#selection;
		const view = this.#tiles ? [...this.#tiles.keys()] : undefined;
		this.#selected = {
			audio: selectAudible(audioCandidates.filter(notOwn), audioRanking, this.#maxAudible),
			video: selectVisible(videoCandidates.filter(notOwn), view, this.#maxVideos),
		};
	}

	async #applyAll(): Promise<void> {
		this.#computeSelected();
		const pending = [...this.#entries.values()].map((entry) => this.#apply(entry));
		await Promise.all(pending);
		this.emit('demandChanged');
	}

	#targetOf(entry: Entry): Target {
		const { consumer } = entry;
		const paused = entry.clientPaused || !this.#selected[consumer.kind].has(consumer.producerId);
		const tile = this.#tiles?.get(consumer.producerId);
		const rank = tileRank(entry.source, tile, entry.ownerId === this.#selection.speakerId);
		if (!entry.layers) return { paused, spatialLayer: 0, priority: 1, rank };
		return { paused, spatialLayer: spatialLayerFor(entry.layers, tile?.size), priority: rankPriority[rank], rank };
	}

	/** Brings one consumer to its target; nothing is sent to mediasoup when the target did not change. */
	#apply(entry: Entry): Promise<void> {
		const next = this.#targetOf(entry);
		const previous = entry.target;
		if (
			next.paused === previous.paused &&
			next.spatialLayer === previous.spatialLayer &&
			next.priority === previous.priority &&
			next.rank === previous.rank
		) {
			return entry.applying;
		}
		entry.target = next;
		entry.fallback?.check();
		entry.applying = entry.applying.then(async () => {
			const { consumer } = entry;
			if (consumer.closed) return;
			try {
				// Layers first: a resumed consumer then starts at the right layer.
				if (entry.layers && next.spatialLayer !== consumer.preferredLayers?.spatialLayer) {
					await consumer.setPreferredLayers({ spatialLayer: next.spatialLayer, temporalLayer: entry.layers.temporalLayers - 1 });
				}
				if (entry.layers && next.priority !== consumer.priority) await consumer.setPriority(next.priority);
				if (next.paused !== consumer.paused) {
					if (next.paused) await consumer.pause();
					else await consumer.resume();
					this.emit('consumerPausedChanged', consumer.id, next.paused);
				}
			} catch {
				// Consumer closed concurrently (producer left): nothing to apply.
			}
		});
		return entry.applying;
	}
}
