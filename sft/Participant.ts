import { randomUUID } from 'node:crypto';
import type { types as ms } from 'mediasoup';
import type { Demand } from './demand.ts';
import { MediaError } from './MediaError.ts';
import { producerAppData } from './producerMeta.ts';
import { type ConsumerLayers, type SelectionInput, Subscriptions } from './Subscriptions.ts';
import type { MediaSource, Size, ViewTile } from './simulcast.ts';
import { bufferListenInfo, type SocketBuffers } from './socketBuffers.ts';
import { TypedEmitter } from './TypedEmitter.ts';

export type { SelectionInput } from './Subscriptions.ts';

export type Direction = 'send' | 'recv';

/**
 * A sender is asked for a key frame at most this often per layer, so N
 * viewers joining or switching at once (locally or through federation links)
 * do not cost N key frames. A request inside the window waits for its end:
 * this bounds how long a viewer may wait for its first frame after a join or
 * a view switch (a federation pipe asks when it starts, so a federated
 * viewer always did; at 1000 ms a federated join took over a second), which
 * in demand-relay mode must stay well under 500 ms. It must also stay above
 * libwebrtc's own 300 ms: Chrome ignores a PLI that soon after the last one
 * it honoured, and mediasoup asks again only a second later (RELIABILITY.md).
 */
export const KEY_FRAME_REQUEST_DELAY_MS = 350;

export interface MediaLimits {
	/** Videos a client may view at once. */
	maxVideos: number;
	/** Loudest speakers a client hears at once. */
	maxAudible: number;
}

/** What a participant needs from its conference to create media objects. */
export interface ParticipantContext {
	router: ms.Router;
	webRtcServer: ms.WebRtcServer;
	/** For plain (raw RTP) transports, which cannot use the WebRtcServer port. */
	plainListenIp: string;
	announcedAddress?: string | undefined;
	limits: MediaLimits;
	initialOutgoingBitrate: number;
	socketBuffers?: SocketBuffers | undefined;
	/** A producer of the conference by id (local or relayed), for the layers a consumer of it can choose from. */
	findProducer(producerId: string): ms.Producer | undefined;
}

export interface WebRtcTransportParams {
	transportId: string;
	iceParameters: ms.IceParameters;
	iceCandidates: ms.IceCandidate[];
	dtlsParameters: ms.DtlsParameters;
}

export interface PlainTransportParams {
	transportId: string;
	ip: string;
	port: number;
}

export type ConnectParams = { dtlsParameters: ms.DtlsParameters } | { ip: string; port: number };

type TransportEntry =
	| { type: 'webrtc'; direction: Direction; transport: ms.WebRtcTransport }
	| { type: 'plain'; direction: Direction; transport: ms.PlainTransport };

type ParticipantEvents = {
	producerCreated: [ms.Producer];
	producerClosed: [ms.Producer];
	consumerClosed: [consumerId: string, producerId: string];
	consumerPausedChanged: [consumerId: string, paused: boolean];
	consumerLayersChanged: [consumerId: string, producerId: string, layers: ConsumerLayers];
	/** The layers this participant needs from the producers it views changed. */
	demandChanged: [];
	closed: [];
};

/**
 * One client in a conference: owns its transports, producers and consumers,
 * and decides which of its consumers flow (view and loudest-speaker rules).
 */
/** Who a participant is; remote ones keep the id their own SFT gave them. */
export interface ParticipantIdentity {
	id?: string | undefined;
	/** Domain of the SFT the client is connected to; undefined for local clients. */
	origin?: string | undefined;
	/**
	 * Domain of the SFT the client is connected to, however it reached us (in a
	 * star, a c.test client reaches b.test with origin a.test); undefined for local clients.
	 */
	homeDomain?: string | undefined;
}

export class Participant extends TypedEmitter<ParticipantEvents> {
	readonly id: string;
	readonly origin: string | undefined;
	readonly homeDomain: string | undefined;
	readonly userId: string;
	readonly displayName: string;
	readonly rtpCapabilities: ms.RtpCapabilities;
	readonly #context: ParticipantContext;
	readonly #transports = new Map<string, TransportEntry>();
	readonly #producers = new Map<string, ms.Producer>();
	readonly #subscriptions: Subscriptions;
	#closed = false;

	constructor(
		userId: string,
		displayName: string,
		rtpCapabilities: ms.RtpCapabilities,
		context: ParticipantContext,
		identity: ParticipantIdentity = {},
	) {
		super();
		this.id = identity.id ?? randomUUID();
		this.origin = identity.origin;
		this.homeDomain = identity.homeDomain ?? identity.origin;
		this.userId = userId;
		this.displayName = displayName;
		this.rtpCapabilities = rtpCapabilities;
		this.#context = context;
		this.#subscriptions = new Subscriptions(context.limits, (producerId) => this.#producers.has(producerId));
		this.#subscriptions.on('consumerClosed', (...args) => this.emit('consumerClosed', ...args));
		this.#subscriptions.on('consumerPausedChanged', (...args) => this.emit('consumerPausedChanged', ...args));
		this.#subscriptions.on('consumerLayersChanged', (...args) => this.emit('consumerLayersChanged', ...args));
		this.#subscriptions.on('demandChanged', () => this.emit('demandChanged'));
	}

	get closed(): boolean {
		return this.#closed;
	}

	get producers(): ms.Producer[] {
		return [...this.#producers.values()];
	}

	get consumers(): ms.Consumer[] {
		return this.#subscriptions.consumers;
	}

	get transports(): ms.Transport[] {
		return [...this.#transports.values()].map((e) => e.transport);
	}

	async createWebRtcTransport(direction: Direction): Promise<WebRtcTransportParams> {
		this.#assertOpen();
		const transport = await this.#context.router.createWebRtcTransport({
			webRtcServer: this.#context.webRtcServer,
			enableUdp: true,
			enableTcp: true,
			preferUdp: true,
			initialAvailableOutgoingBitrate: this.#context.initialOutgoingBitrate,
		});
		this.#adopt({ type: 'webrtc', direction, transport });
		return {
			transportId: transport.id,
			iceParameters: transport.iceParameters,
			iceCandidates: transport.iceCandidates,
			dtlsParameters: transport.dtlsParameters,
		};
	}

	/**
	 * Raw RTP ingest/egress (load clients, ffmpeg, recorders). A send transport
	 * learns the client's address from its first packet (comedia).
	 */
	async createPlainTransport(direction: Direction): Promise<PlainTransportParams> {
		this.#assertOpen();
		const transport = await this.#context.router.createPlainTransport({
			listenInfo: {
				protocol: 'udp',
				ip: this.#context.plainListenIp,
				...(this.#context.announcedAddress ? { announcedAddress: this.#context.announcedAddress } : {}),
				...bufferListenInfo(this.#context.socketBuffers),
			},
			rtcpMux: true,
			comedia: direction === 'send',
		});
		this.#adopt({ type: 'plain', direction, transport });
		return { transportId: transport.id, ip: transport.tuple.localAddress ?? transport.tuple.localIp, port: transport.tuple.localPort };
	}

	async connectTransport(transportId: string, params: ConnectParams): Promise<void> {
		const entry = this.#transport(transportId);
		try {
			if (entry.type === 'webrtc' && 'dtlsParameters' in params) {
				await entry.transport.connect({ dtlsParameters: params.dtlsParameters });
			} else if (entry.type === 'plain' && 'ip' in params) {
				await entry.transport.connect({ ip: params.ip, port: params.port });
			} else {
				throw new MediaError('invalid_media_parameters', `wrong connect parameters for a ${entry.type} transport`);
			}
		} catch (error) {
			if (error instanceof MediaError) throw error;
			throw new MediaError('invalid_media_parameters', `cannot connect transport: ${(error as Error).message}`);
		}
	}

	/**
	 * `source` defaults to mic for audio and camera for video; `size` is the
	 * top layer's frame size when the client knows it (layer choice assumes
	 * the recommended capture size otherwise).
	 */
	async produce(
		transportId: string,
		kind: ms.MediaKind,
		rtpParameters: ms.RtpParameters,
		options: { source?: MediaSource | undefined; size?: Size | undefined; appData?: Record<string, unknown> | undefined } = {},
	): Promise<ms.Producer> {
		const source = options.source ?? (kind === 'audio' ? 'mic' : 'camera');
		if ((kind === 'audio') !== (source === 'mic') && source !== 'screen') {
			throw new MediaError('invalid_media_parameters', `a ${kind} producer cannot have source "${source}"`);
		}
		const { transport } = this.#transport(transportId, 'send');
		let producer: ms.Producer;
		try {
			producer = await transport.produce({
				kind,
				rtpParameters,
				keyFrameRequestDelay: KEY_FRAME_REQUEST_DELAY_MS,
				appData: { ...options.appData, ...producerAppData(this.id, source, options.size) },
			});
		} catch (error) {
			throw new MediaError('invalid_media_parameters', `cannot produce: ${(error as Error).message}`);
		}
		this.adoptProducer(producer);
		return producer;
	}

	/**
	 * Makes a producer created elsewhere (a federation pipe's copy of a remote
	 * client's stream) this participant's, so the conference offers it like a local one.
	 */
	adoptProducer(producer: ms.Producer): void {
		this.#producers.set(producer.id, producer);
		producer.observer.once('close', () => {
			this.#producers.delete(producer.id);
			this.emit('producerClosed', producer);
		});
		this.emit('producerCreated', producer);
	}

	closeProducer(producerId: string): void {
		this.#producer(producerId).close();
	}

	async setProducerPaused(producerId: string, paused: boolean): Promise<void> {
		const producer = this.#producer(producerId);
		if (paused) await producer.pause();
		else await producer.resume();
	}

	/** Creates a consumer paused; it flows once the client resumes it and selection allows. */
	async consume(transportId: string, producerId: string): Promise<ms.Consumer> {
		const { transport } = this.#transport(transportId, 'recv');
		if (this.#producers.has(producerId)) throw new MediaError('own_producer', 'a client never receives its own streams');
		if (this.#subscriptions.has(producerId)) throw new MediaError('cannot_consume', 'already consuming this producer');
		const producer = this.#context.findProducer(producerId);
		if (!producer || !this.#context.router.canConsume({ producerId, rtpCapabilities: this.rtpCapabilities })) {
			throw new MediaError('cannot_consume', `cannot consume producer ${producerId} with the given RTP capabilities`);
		}
		const preferredLayers = this.#subscriptions.initialLayers(producer);
		const consumer = await transport.consume({
			producerId,
			rtpCapabilities: this.rtpCapabilities,
			paused: true,
			...(preferredLayers ? { preferredLayers } : {}),
		});
		this.#subscriptions.add(consumer, producer);
		return consumer;
	}

	async setConsumerPaused(consumerId: string, paused: boolean): Promise<void> {
		this.#assertOpen();
		await this.#subscriptions.setClientPaused(consumerId, paused);
	}

	/**
	 * The remote videos this client views (at most maxVideos), each with the
	 * size it is drawn at; a bare producer id means "as large as you can".
	 */
	async setView(view: readonly (string | ViewTile)[]): Promise<void> {
		this.#assertOpen();
		await this.#subscriptions.setView(view.map((entry) => (typeof entry === 'string' ? { producerId: entry } : entry)));
	}

	/** Caps what the SFT sends this client, on top of its bandwidth estimate (a data-saver setting). */
	async setReceiveBitrate(maxBitrate: number): Promise<void> {
		this.#assertOpen();
		const receivers = [...this.#transports.values()].filter((e) => e.type === 'webrtc' && e.direction === 'recv');
		await Promise.all(receivers.map((e) => (e.transport as ms.WebRtcTransport).setMaxOutgoingBitrate(maxBitrate)));
	}

	/** Called by the conference whenever remote streams or the loudest ranking change. */
	async updateSelection(selection: SelectionInput): Promise<void> {
		await this.#subscriptions.update(selection);
	}

	/** Whether a remote producer is currently selected for this participant. */
	isSelected(producerId: string, kind: ms.MediaKind): boolean {
		return this.#subscriptions.isSelected(producerId, kind);
	}

	/** The spatial layer this participant needs of each video it receives, with its tile's rank. */
	videoDemand(): Demand {
		return this.#subscriptions.demand();
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const { transport } of this.#transports.values()) transport.close();
		// Adopted producers live on a relay's transport, not ours.
		for (const producer of this.#producers.values()) producer.close();
		this.#transports.clear();
		this.emit('closed');
	}

	#adopt(entry: TransportEntry): void {
		const transport: ms.Transport = entry.transport;
		this.#transports.set(transport.id, entry);
		transport.observer.once('close', () => this.#transports.delete(transport.id));
	}

	#transport(transportId: string, direction?: Direction): TransportEntry {
		this.#assertOpen();
		const entry = this.#transports.get(transportId);
		if (!entry) throw new MediaError('unknown_transport', `no transport ${transportId}`);
		if (direction && entry.direction !== direction) {
			throw new MediaError('wrong_transport_direction', `transport ${transportId} is not a ${direction} transport`);
		}
		return entry;
	}

	#producer(producerId: string): ms.Producer {
		const producer = this.#producers.get(producerId);
		if (!producer) throw new MediaError('unknown_producer', `no producer ${producerId} of this participant`);
		return producer;
	}

	#assertOpen(): void {
		if (this.#closed) throw new MediaError('conference_closed', 'participant has left');
	}
}
