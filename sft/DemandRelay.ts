import type { types as ms } from 'mediasoup';
import { type Demand, type LayerDemand, sameLayers } from './demand.ts';
import type { MediaRelay, MediaRelayEvents, PipeEndpoint, RelayedProducer, RelayOptions } from './MediaRelay.ts';
import { layersOf } from './producerMeta.ts';
import { RelayedProducers } from './RelayedProducers.ts';
import { relayListenInfo, relayTarget } from './relaySocket.ts';
import type { TileRank } from './simulcast.ts';
import { TypedEmitter } from './TypedEmitter.ts';

/** One sent producer: its consumers on the link (one per simulcast layer; one for SVC, single-layer and audio). */
interface Outgoing {
	producer: ms.Producer;
	consumers: ms.Consumer[];
	/** SVC: one consumer whose preferred spatial layer is the highest needed. */
	svc: boolean;
	layers: LayerDemand;
	/** Simulcast layers still crossing once so the far side gets their sender reports (see #prime). */
	priming: Set<number>;
	/** Changes to mediasoup run one after another, so the last decision wins. */
	applying: Promise<void>;
}

/**
 * A far-side viewer can switch to a simulcast layer only once that layer's
 * stream has had an RTCP sender report (mediasoup aligns the layers' RTP
 * timestamps by them), and mediasoup sends one per stream every 1–1.5 s. So
 * each layer of a new stream crosses for this long once, when first offered:
 * later view switches then start at the next key frame instead of waiting for
 * a sender report.
 */
const PRIME_MS = 1600;
const PRIME_POLL_MS = 250;
const PRIME_GIVE_UP_MS = 10_000;

/** Feedback that would make mediasoup estimate bandwidth on the link; the link is not congestion-controlled per stream. */
const BWE_FEEDBACK = new Set(['transport-cc', 'goog-remb']);
/**
 * The only header extensions worth their bytes between SFTs: audio levels
 * (the far side ranks speakers), video orientation and capture time (they
 * must reach the viewers). MID, transport-wide sequence numbers, send times
 * and time offsets only matter on a client's own connection.
 */
const LINK_EXTENSIONS = new Set([
	'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
	'urn:3gpp:video-orientation',
	'http://www.webrtc.org/experiments/rtp-hdrext/abs-capture-time',
]);

/**
 * The `demand` relay: a mediasoup PlainTransport with SRTP and RTX, on which
 * every sent video has one ordinary consumer per spatial layer (pipe
 * consumers would carry every layer). A consumer flows only while the far
 * side needs its layer; resuming one asks the sender for a key frame. The far
 * side re-creates the stream as one producer with one encoding per layer
 * (by SSRC), so its own viewers still choose a layer per tile among the
 * layers that cross.
 */
export class DemandRelay extends TypedEmitter<MediaRelayEvents> implements MediaRelay {
	readonly mode = 'demand';
	readonly transport: ms.PlainTransport;
	readonly #rtpCapabilities: ms.RtpCapabilities;
	readonly #sent = new Map<string, Outgoing>();
	readonly #received: RelayedProducers;

	readonly #options: RelayOptions;

	private constructor(transport: ms.PlainTransport, rtpCapabilities: ms.RtpCapabilities, options: RelayOptions) {
		super();
		this.transport = transport;
		this.#received = new RelayedProducers(transport);
		this.#options = options;
		this.#rtpCapabilities = rtpCapabilities;
		transport.observer.once('close', () => this.emit('closed'));
	}

	static async create(router: ms.Router, options: RelayOptions): Promise<DemandRelay> {
		const transport = await router.createPlainTransport({
			listenInfo: relayListenInfo(options),
			rtcpMux: true,
			comedia: false,
			enableSrtp: true,
			srtpCryptoSuite: 'AEAD_AES_256_GCM',
		});
		return new DemandRelay(transport, linkCapabilities(router.rtpCapabilities), options);
	}

	get localEndpoint(): PipeEndpoint {
		const { tuple, srtpParameters } = this.transport;
		if (!srtpParameters) throw new Error('plain transport has no SRTP parameters');
		return { ip: tuple.localAddress ?? tuple.localIp, port: tuple.localPort, srtpParameters };
	}

	get closed(): boolean {
		return this.transport.closed;
	}

	get sentProducerIds(): string[] {
		return [...this.#sent.keys()];
	}

	get sentConsumers(): ms.Consumer[] {
		return [...this.#sent.values()].flatMap((o) => o.consumers);
	}

	get receivedProducers(): ms.Producer[] {
		return this.#received.all;
	}

	async connect(remote: PipeEndpoint): Promise<void> {
		const target = await relayTarget(this.#options, this.localEndpoint, remote);
		await this.transport.connect({ ip: target.ip, port: target.port, srtpParameters: remote.srtpParameters });
	}

	/** Prepares the consumers of a producer, all paused: nothing crosses until `setLayers` asks for it. */
	async send(producer: ms.Producer): Promise<RelayedProducer> {
		const encodings = producer.rtpParameters.encodings ?? [];
		const svc = producer.kind === 'video' && encodings.length <= 1 && layersOf(producer).spatialLayers > 1;
		const perLayer = producer.kind === 'video' && encodings.length > 1 ? encodings.length : 1;
		const consumers: ms.Consumer[] = [];
		try {
			for (let layer = 0; layer < perLayer; layer++) {
				consumers.push(
					await this.transport.consume({
						producerId: producer.id,
						rtpCapabilities: this.#rtpCapabilities,
						paused: true,
						...(perLayer > 1 ? { preferredLayers: { spatialLayer: layer, temporalLayer: layersOf(producer).temporalLayers - 1 } } : {}),
					}),
				);
			}
		} catch (error) {
			for (const consumer of consumers) consumer.close();
			throw error;
		}
		const priming = new Set(perLayer > 1 ? consumers.map((_, layer) => layer) : []);
		const outgoing: Outgoing = { producer, consumers, svc, layers: new Map(), priming, applying: Promise.resolve() };
		this.#sent.set(producer.id, outgoing);
		if (priming.size > 0) this.#prime(outgoing);
		const first = consumers[0];
		first?.observer.once('close', () => {
			for (const consumer of consumers) consumer.close();
			if (this.#sent.get(producer.id) === outgoing) this.#sent.delete(producer.id);
			this.emit('sendingChanged');
		});
		return {
			producerId: producer.id,
			kind: producer.kind,
			rtpParameters: farSideParameters(producer, consumers),
			paused: producer.paused,
			appData: { ...producer.appData },
		};
	}

	stopSending(producerId: string): void {
		this.#sent.get(producerId)?.consumers[0]?.close();
	}

	async setLayers(producerId: string, layers: ReadonlyMap<number, TileRank>): Promise<void> {
		const outgoing = this.#sent.get(producerId);
		if (!outgoing || sameLayers(layers, outgoing.layers)) return;
		const changedLayers = !sameSet(new Set(outgoing.layers.keys()), new Set(layers.keys()));
		outgoing.layers = new Map(layers);
		if (changedLayers) outgoing.applying = outgoing.applying.then(() => this.#apply(outgoing, new Set(layers.keys())));
		// Ranks alone matter to upstream links; demand is recomputed either way.
		this.emit('sendingChanged');
		await outgoing.applying;
	}

	sentDemand(): Demand {
		const demand: Demand = new Map();
		for (const [producerId, outgoing] of this.#sent) {
			if (outgoing.producer.kind !== 'video' || outgoing.layers.size === 0) continue;
			demand.set(producerId, new Map(outgoing.layers));
		}
		return demand;
	}

	/** Re-creates a far-side producer here (same id), so local clients can consume it. */
	receive(relayed: RelayedProducer): Promise<ms.Producer> {
		return this.#received.receive(relayed);
	}

	stopReceiving(producerId: string): void {
		this.#received.stop(producerId);
	}

	close(): void {
		this.transport.close();
	}

	/** Lets every layer flow until each has crossed for PRIME_MS, then only what is demanded. */
	#prime(outgoing: Outgoing): void {
		const startedAt = Date.now();
		const flowingSince = new Map<number, number>();
		const reapply = () => {
			outgoing.applying = outgoing.applying.then(() => this.#apply(outgoing, new Set(outgoing.layers.keys())));
		};
		reapply();
		const timer = setInterval(async () => {
			if (this.closed || outgoing.consumers.some((c) => c.closed)) return void clearInterval(timer);
			const now = Date.now();
			for (const layer of [...outgoing.priming]) {
				const consumer = outgoing.consumers[layer];
				const stats = ((await consumer?.getStats().catch(() => [])) ?? []) as { type: string; packetCount?: number }[];
				const sent = stats.find((st) => st.type === 'outbound-rtp')?.packetCount ?? 0;
				if (sent > 0 && !flowingSince.has(layer)) flowingSince.set(layer, now);
				const since = flowingSince.get(layer);
				if (since !== undefined && now - since >= PRIME_MS) outgoing.priming.delete(layer);
			}
			if (now - startedAt > PRIME_GIVE_UP_MS) outgoing.priming.clear();
			if (outgoing.priming.size === 0) {
				clearInterval(timer);
				reapply();
			}
		}, PRIME_POLL_MS);
		timer.unref();
	}

	async #apply(outgoing: Outgoing, layers: ReadonlySet<number>): Promise<void> {
		try {
			if (outgoing.svc) {
				const consumer = outgoing.consumers[0];
				if (!consumer || consumer.closed) return;
				if (layers.size === 0) return void (await consumer.pause());
				const top = Math.max(...layers);
				const temporalLayer = layersOf(outgoing.producer).temporalLayers - 1;
				if (consumer.preferredLayers?.spatialLayer !== top) await consumer.setPreferredLayers({ spatialLayer: top, temporalLayer });
				if (consumer.paused) await consumer.resume();
				return;
			}
			// Single-layer video and audio: any demand at all lets the one consumer flow.
			const wanted = (layer: number) =>
				outgoing.consumers.length === 1 ? layers.size > 0 : layers.has(layer) || outgoing.priming.has(layer);
			await Promise.all(
				outgoing.consumers.map(async (consumer, layer) => {
					if (consumer.closed) return;
					if (wanted(layer) && consumer.paused) await consumer.resume();
					else if (!wanted(layer) && !consumer.paused) await consumer.pause();
				}),
			);
		} catch {
			// The producer or the link closed meanwhile: nothing left to switch.
		}
	}
}

/** The router's capabilities without bandwidth estimation and with only the header extensions the far side uses. */
function linkCapabilities(capabilities: ms.RtpCapabilities): ms.RtpCapabilities {
	return {
		codecs: capabilities.codecs?.map((codec) => ({
			...codec,
			rtcpFeedback: codec.rtcpFeedback?.filter((fb) => !BWE_FEEDBACK.has(fb.type)),
		})),
		headerExtensions: capabilities.headerExtensions?.filter((ext) => LINK_EXTENSIONS.has(ext.uri)),
	};
}

/**
 * The producer the far side creates: the consumers' codecs, one encoding per
 * consumer (its SSRC and RTX SSRC) with the original encoding's layer
 * description, so layer sizes and simulcast-vs-SVC survive the hop. Matched
 * by SSRC (each consumer has its own MID).
 */
function farSideParameters(producer: ms.Producer, consumers: ms.Consumer[]): ms.RtpParameters {
	const first = consumers[0];
	if (!first) throw new Error('no consumer to describe');
	const original = producer.rtpParameters.encodings ?? [];
	const { mid: _mid, ...base } = first.rtpParameters;
	return {
		...base,
		encodings: consumers.map((consumer, i) => {
			const sent = consumer.rtpParameters.encodings?.[0];
			const source = original[consumers.length === 1 ? 0 : i] ?? {};
			return {
				...(sent?.ssrc !== undefined ? { ssrc: sent.ssrc } : {}),
				...(sent?.rtx ? { rtx: sent.rtx } : {}),
				...(source.scalabilityMode ? { scalabilityMode: source.scalabilityMode } : {}),
				...(source.scaleResolutionDownBy ? { scaleResolutionDownBy: source.scaleResolutionDownBy } : {}),
				...(source.maxBitrate ? { maxBitrate: source.maxBitrate } : {}),
			};
		}),
	};
}

function sameSet(a: ReadonlySet<number>, b: ReadonlySet<number>): boolean {
	return a.size === b.size && [...a].every((x) => b.has(x));
}
