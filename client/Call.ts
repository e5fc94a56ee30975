import { Emitter } from './Emitter.ts';
import { EncodingSwitch, toSendEncodings } from './encodings.ts';
import type { MediaConsumer, MediaDevice, MediaProducer, MediaTransport, SendCodec } from './media.ts';
import type {
	Capabilities,
	ConferenceDescriptor,
	FederationLinkInfo,
	JoinReply,
	MediaSource,
	Opaque,
	ParticipantInfo,
	SftEventName,
	SftEvents,
	ViewTile,
	WebRtcTransportReply,
} from './protocol.ts';
import { RequestError, type SignallingChannel } from './Signalling.ts';
import { type CallSnapshot, CallState, type RemoteProducer } from './state/CallState.ts';
import { type TileSize, viewFor, viewKey } from './state/view.ts';
import { type ReceiveSample, type ReceiveStats, readInbound, withRates } from './stats.ts';

export interface JoinOptions {
	/** Another domain's conference descriptor (from an invite): join it through this SFT. */
	descriptor?: ConferenceDescriptor | undefined;
	displayName?: string | undefined;
	/** Consume the remote streams (default true). */
	receive?: boolean;
}

/** What a call needs of its SFT connection. */
export interface CallSession {
	signalling: SignallingChannel;
	/** Loaded with the SFT's RTP capabilities. */
	device: MediaDevice;
	capabilities: Capabilities;
	token: string | undefined;
}

export interface PublishOptions {
	/** Start paused (muted). */
	muted?: boolean;
	/** Camera and screen: send the SFT's recommended simulcast encodings (default true when the SFT recommends some). */
	simulcast?: boolean;
	/** Encodings to send instead of the recommendation (e.g. one VP9 SVC encoding `{ scalabilityMode: 'L3T3_KEY' }`). */
	encodings?: RTCRtpEncodingParameters[];
	/** One of the device's send codecs (`device.rtpCapabilities.codecs`) to use instead of the first. */
	codec?: SendCodec;
}

/** A remote stream the client receives. */
export interface RemoteTrack {
	producerId: string;
	participantId: string;
	kind: 'audio' | 'video';
	source: MediaSource;
	consumerId: string;
	track: MediaStreamTrack;
}

export type ConnectionState = 'connected' | 'reconnecting' | 'ended';

export type CallEvents = {
	/** Anything shown may have changed: participants, tiles, speakers, links, mute states. */
	changed: [CallSnapshot];
	participantJoined: [ParticipantInfo];
	participantLeft: [{ participantId: string }];
	producerAdded: [RemoteProducer];
	producerClosed: [{ producerId: string }];
	/** Participant ids, loudest first. */
	activeSpeakers: [string[]];
	layersChanged: [SftEvents['consumerLayersChanged']];
	/** The SFT asked for a change of this client's simulcast encodings (already applied to the sender). */
	encodingsNeeded: [{ producerId: string; source: MediaSource | undefined; active: boolean[] }];
	federationLinks: [FederationLinkInfo[]];
	/** A remote stream is ready to be rendered. */
	trackAdded: [RemoteTrack];
	trackRemoved: [{ producerId: string }];
	connection: [ConnectionState];
	/** The call is over: `reason` is a conferenceEnded reason, `left`, or an error code when a rejoin failed. */
	ended: [{ reason: string; error?: RequestError | undefined }];
	/** Background work that failed (consuming, applying encodings, rejoining). */
	error: [Error];
};

interface Publication {
	source: MediaSource;
	track: MediaStreamTrack;
	options: PublishOptions;
	muted: boolean;
	producer: MediaProducer | undefined;
	encodings: EncodingSwitch | undefined;
}

const REJOIN_RETRY_MS = 2000;

/** The capture size of a video track, for `produce` (the SFT then knows each layer's size). */
function frameSize(track: MediaStreamTrack | undefined): { size?: { width: number; height: number } } {
	const { width, height } = track?.getSettings?.() ?? {};
	return width && height ? { size: { width: Math.round(width), height: Math.round(height) } } : {};
}

/** Errors after which rejoining again cannot help. */
const FATAL_REJOIN_CODES = new Set([
	'token_missing',
	'token_invalid',
	'token_expired',
	'token_wrong_conference',
	'conference_not_found',
	'federation_disabled',
	'server_draining',
]);

/**
 * One joined conference: publishes local tracks, consumes every remote
 * stream, keeps the view in step with the tiles on screen, applies the SFT's
 * simulcast requests to its own senders, and after a signalling drop joins
 * again, republishes and resubscribes (the SFT ends a session with its
 * connection).
 */
export class Call extends Emitter<CallEvents> {
	readonly conferenceId: string;
	readonly #signalling: SignallingChannel;
	readonly #device: MediaDevice;
	readonly #capabilities: Capabilities;
	readonly #token: string | undefined;
	readonly #options: JoinOptions;
	readonly #state = new CallState();
	readonly #publications = new Map<MediaSource, Publication>();
	readonly #consumers = new Map<string, MediaConsumer>();
	readonly #samples = new Map<string, ReceiveSample>();
	readonly #unsubscribe: (() => void)[] = [];
	#descriptor: ConferenceDescriptor | undefined;
	#joinReply: JoinReply | undefined;
	#sendTransport: MediaTransport | undefined;
	#recvTransport: MediaTransport | undefined;
	/** Each (re)join starts a generation; work of an older one stops. */
	#generation = 0;
	#connection: ConnectionState = 'connected';
	#syncing: Promise<void> = Promise.resolve();
	#sizes: Map<string, TileSize> | undefined;
	#manualView: ViewTile[] | string[] | undefined;
	#lastView = '';

	private constructor(session: CallSession, conferenceId: string, options: JoinOptions) {
		super();
		this.#signalling = session.signalling;
		this.#device = session.device;
		this.#capabilities = session.capabilities;
		this.#token = session.token;
		this.conferenceId = conferenceId;
		this.#options = options;
		this.#descriptor = options.descriptor;
	}

	/** Joins (used by SftClient.join). */
	static async join(session: CallSession, conferenceId: string, options: JoinOptions): Promise<Call> {
		const { signalling } = session;
		const call = new Call(session, conferenceId, options);
		call.#unsubscribe.push(
			signalling.on('event', (name, payload) => call.#onEvent(name as SftEventName, payload)),
			signalling.on('disconnected', (reason, willReconnect) => call.#onDisconnected(reason, willReconnect)),
			signalling.on('reconnected', () => void call.#rejoin()),
		);
		try {
			await call.#joinNow();
		} catch (error) {
			call.#stop();
			throw error;
		}
		return call;
	}

	get participantId(): string {
		return this.#state.participantId;
	}

	get connection(): ConnectionState {
		return this.#connection;
	}

	/** What the SFT recommends and allows (simulcast encodings, view limit). */
	get capabilities(): Capabilities {
		return this.#capabilities;
	}

	/** The conference as the client sees it now. */
	get snapshot(): CallSnapshot {
		return this.#state.snapshot();
	}

	/** The descriptor to hand to people of other domains (it names the anchor). */
	get descriptor(): ConferenceDescriptor | undefined {
		return this.#state.snapshot().descriptor;
	}

	/** The SFT's latest join reply. */
	get joinReply(): JoinReply | undefined {
		return this.#joinReply;
	}

	/** The RTCRtpSender of a published source (diagnostics; werift's carries its key-frame requests). */
	sender(source: MediaSource): unknown {
		return this.#publications.get(source)?.producer?.rtpSender;
	}

	/** Producer id of a local source, while published. */
	producerId(source: MediaSource): string | undefined {
		return this.#publications.get(source)?.producer?.id;
	}

	localTrack(source: MediaSource): MediaStreamTrack | undefined {
		return this.#publications.get(source)?.track;
	}

	/** The track of a remote producer, once consumed. */
	remoteTrack(producerId: string): MediaStreamTrack | undefined {
		return this.#consumers.get(producerId)?.track;
	}

	/** Remote tracks received now. */
	get remoteTracks(): RemoteTrack[] {
		return [...this.#consumers.entries()].flatMap(([producerId, consumer]) => {
			const track = this.#remoteTrackInfo(producerId, consumer);
			return track ? [track] : [];
		});
	}

	/**
	 * Sends a track. Camera and screen go out with the SFT's recommended
	 * simulcast encodings. Publishing a source again replaces its track.
	 */
	async publish(source: MediaSource, track: MediaStreamTrack, options: PublishOptions = {}): Promise<string> {
		if (this.#publications.has(source)) await this.unpublish(source);
		const publication: Publication = { source, track, options, muted: options.muted ?? false, producer: undefined, encodings: undefined };
		this.#publications.set(source, publication);
		try {
			await this.#produce(publication, this.#generation);
		} catch (error) {
			if (this.#publications.get(source) === publication) this.#publications.delete(source);
			throw error;
		}
		this.#changed();
		return publication.producer?.id ?? '';
	}

	async unpublish(source: MediaSource): Promise<void> {
		const publication = this.#publications.get(source);
		if (!publication) return;
		this.#publications.delete(source);
		this.#state.setLocalMedia(source, 'off');
		const producer = publication.producer;
		publication.producer = undefined;
		if (producer && !producer.closed) {
			producer.close();
			await this.#signalling.request('closeProducer', { producerId: producer.id }).catch(() => undefined);
		}
		this.#changed();
	}

	/** Mutes (pauses) or unmutes a published source; the SFT stops forwarding it to everyone. */
	async setMuted(source: MediaSource, muted: boolean): Promise<void> {
		const publication = this.#publications.get(source);
		if (!publication) return;
		publication.muted = muted;
		this.#state.setLocalMedia(source, muted ? 'muted' : 'on');
		this.#changed();
		const producer = publication.producer;
		if (!producer || producer.closed) return;
		if (muted) producer.pause();
		else producer.resume();
		await this.#signalling.request(muted ? 'pause' : 'resume', { producerId: producer.id });
	}

	/**
	 * The sizes (device pixels) at which the app renders each tile, by tile
	 * key. From then on the SDK keeps the SFT's view in step: the tiles that
	 * show video, the pinned one first (it asks for the highest layer).
	 */
	setTileSizes(sizes: ReadonlyMap<string, TileSize> | Record<string, TileSize>): void {
		this.#sizes = new Map(sizes instanceof Map ? sizes : Object.entries(sizes));
		this.#manualView = undefined;
		this.#updateView();
	}

	/** Pins a tile (by key) or unpins with undefined. */
	pin(key: string | undefined): void {
		this.#state.pin(key);
		this.#changed();
	}

	/** Sets the view directly: producer ids (as large as the SFT can) or tiles with sizes. */
	async setView(view: ViewTile[] | string[]): Promise<void> {
		this.#manualView = view;
		this.#sizes = undefined;
		await this.#sendView(view, true);
	}

	/** Caps what the SFT sends this client, in bits per second. */
	async setReceiveBitrate(maxBitrate: number): Promise<void> {
		if (!this.#capabilities.simulcast)
			throw new RequestError('setReceiveBitrate', 'unknown_method', 'this SFT cannot cap the receive bitrate');
		await this.#signalling.request('setReceiveBitrate', { maxBitrate });
	}

	/** Receive statistics of a remote stream, with the bitrate and loss since the previous call. */
	async receiveStats(producerId: string): Promise<ReceiveStats | undefined> {
		const consumer = this.#consumers.get(producerId);
		if (!consumer || consumer.closed) return undefined;
		const sample = readInbound(await consumer.getStats());
		if (!sample) return undefined;
		const stats = withRates(this.#samples.get(producerId), sample);
		this.#samples.set(producerId, sample);
		return stats;
	}

	/** The stats report of a published source's sender (outbound-rtp per encoding). */
	async sendStats(source: MediaSource): Promise<RTCStatsReport | undefined> {
		return this.#publications.get(source)?.producer?.getStats();
	}

	/** The send and receive transports' stats reports (for tests and diagnostics). */
	async transportStats(): Promise<{ send: RTCStatsReport | undefined; recv: RTCStatsReport | undefined }> {
		const [send, recv] = await Promise.all([this.#sendTransport?.getStats(), this.#recvTransport?.getStats()]);
		return { send, recv };
	}

	get transportStates(): { send: string; recv: string } {
		return { send: this.#sendTransport?.connectionState ?? 'none', recv: this.#recvTransport?.connectionState ?? 'none' };
	}

	/** Leaves the conference. Local tracks are not stopped (the app owns them). */
	async leave(): Promise<void> {
		if (this.#connection === 'ended') return;
		const joined = this.#connection === 'connected';
		this.#end({ reason: 'left' });
		if (joined && this.#signalling.connected) await this.#signalling.request('leave', {}, 3000).catch(() => undefined);
	}

	async #joinNow(): Promise<void> {
		const generation = ++this.#generation;
		const reply: JoinReply = await this.#signalling.request('join', {
			conferenceId: this.conferenceId,
			rtpCapabilities: this.#device.rtpCapabilities,
			...(this.#token !== undefined ? { token: this.#token } : {}),
			...(this.#options.displayName !== undefined ? { displayName: this.#options.displayName } : {}),
			...(this.#descriptor ? { descriptor: this.#descriptor } : {}),
		});
		this.#joinReply = reply;
		// A later rejoin goes through the anchor this one ended up with (it may have been re-homed).
		if (reply.descriptor && reply.descriptor.anchorDomain !== reply.domain) this.#descriptor = reply.descriptor;
		this.#state.reset(reply, this.#options.displayName ?? '');
		for (const publication of this.#publications.values()) this.#state.setLocalMedia(publication.source, 'off');
		this.#connection = 'connected';
		this.#lastView = '';
		if (this.#options.receive ?? true) {
			this.#recvTransport = await this.#createTransport('recv', generation);
			this.#syncConsumers();
		}
		this.#changed();
	}

	async #rejoin(): Promise<void> {
		if (this.#connection !== 'reconnecting') return;
		try {
			await this.#joinNow();
			const generation = this.#generation;
			for (const publication of this.#publications.values()) await this.#produce(publication, generation);
			this.#changed();
			this.emit('connection', 'connected');
		} catch (error) {
			const code = error instanceof RequestError ? error.code : 'internal_error';
			if (FATAL_REJOIN_CODES.has(code)) {
				this.#end({ reason: code, error: error as RequestError });
				return;
			}
			this.#report(error);
			// Dropped again: the next reconnect rejoins. Still connected: start over in a moment.
			this.#connection = 'reconnecting';
			this.#generation++;
			this.#dropMedia();
			if (!this.#signalling.connected) return;
			await this.#signalling.request('leave', {}, 3000).catch(() => undefined);
			setTimeout(() => void this.#rejoin(), REJOIN_RETRY_MS);
		}
	}

	#onDisconnected(reason: string, willReconnect: boolean): void {
		if (this.#connection === 'ended') return;
		if (!willReconnect) {
			this.#end({ reason: 'disconnected', error: new RequestError('connection', 'disconnected', `signalling closed: ${reason}`) });
			return;
		}
		this.#connection = 'reconnecting';
		this.#generation++;
		this.#dropMedia();
		this.emit('connection', 'reconnecting');
		this.#changed();
	}

	#onEvent(name: SftEventName, payload: unknown): void {
		if (this.#connection !== 'connected') return;
		if (name === 'encodingsNeeded') {
			this.#onEncodingsNeeded(payload as SftEvents['encodingsNeeded']);
			return;
		}
		if (name === 'mediaReset') {
			void this.#resetMedia(payload as SftEvents['mediaReset']);
			return;
		}
		if (name === 'conferenceDescriptor') {
			// The anchor died and another SFT took over: a later rejoin goes there (unless it is our own SFT).
			const { descriptor } = payload as SftEvents['conferenceDescriptor'];
			this.#descriptor = descriptor.anchorDomain !== this.#joinReply?.domain ? descriptor : undefined;
		}
		if (!this.#state.apply(name, payload as SftEvents[typeof name])) return;
		switch (name) {
			case 'participantJoined':
				this.emit('participantJoined', payload as ParticipantInfo);
				break;
			case 'participantLeft':
				this.emit('participantLeft', payload as SftEvents['participantLeft']);
				break;
			case 'producerAdded': {
				const producer = this.#state.snapshot().producers.find((p) => p.producerId === (payload as SftEvents['producerAdded']).producerId);
				if (producer) this.emit('producerAdded', producer);
				break;
			}
			case 'producerClosed':
				this.emit('producerClosed', payload as SftEvents['producerClosed']);
				break;
			case 'activeSpeakers':
				this.emit('activeSpeakers', this.#state.snapshot().speakers);
				break;
			case 'consumerLayersChanged':
				this.emit('layersChanged', payload as SftEvents['consumerLayersChanged']);
				break;
			case 'federationLinks':
				this.emit('federationLinks', (payload as SftEvents['federationLinks']).links);
				break;
			case 'conferenceEnded':
				this.#end({ reason: (payload as SftEvents['conferenceEnded']).reason });
				return;
		}
		if (['participantJoined', 'participantLeft', 'producerAdded', 'producerClosed', 'consumerClosed'].includes(name)) this.#syncConsumers();
		this.#changed();
	}

	/**
	 * The SFT moved the conference to another media worker (ours died): we
	 * are still in it under the same id, but every transport, stream and
	 * consumer is gone. Set them up again, as after a rejoin.
	 */
	async #resetMedia(reset: SftEvents['mediaReset']): Promise<void> {
		this.#generation++;
		this.#dropMedia();
		const generation = this.#generation;
		const previous = this.#joinReply;
		const reply: JoinReply = {
			conferenceId: this.conferenceId,
			...(previous?.domain !== undefined ? { domain: previous.domain } : {}),
			...(previous?.descriptor ? { descriptor: previous.descriptor } : {}),
			participantId: reset.participantId,
			rtpCapabilities: reset.rtpCapabilities as JoinReply['rtpCapabilities'],
			participants: reset.participants,
			producers: reset.producers,
		};
		this.#joinReply = reply;
		this.#state.reset(reply, this.#options.displayName ?? '');
		for (const publication of this.#publications.values()) this.#state.setLocalMedia(publication.source, 'off');
		this.#lastView = '';
		try {
			if (this.#options.receive ?? true) {
				this.#recvTransport = await this.#createTransport('recv', generation);
				this.#syncConsumers();
			}
			for (const publication of this.#publications.values()) await this.#produce(publication, generation);
		} catch (error) {
			this.#report(error);
		}
		this.#changed();
	}

	#onEncodingsNeeded({ producerId, active }: SftEvents['encodingsNeeded']): void {
		const publication = [...this.#publications.values()].find((p) => p.producer?.id === producerId);
		if (!publication?.encodings) return;
		void publication.encodings.set(active).then(() => this.emit('encodingsNeeded', { producerId, source: publication.source, active }));
	}

	async #produce(publication: Publication, generation: number): Promise<void> {
		const transport = await this.#sendTransportFor(generation);
		const { source, track, options } = publication;
		const recommended = source === 'mic' ? undefined : this.#capabilities.simulcast[source].encodings;
		const encodings = options.encodings ?? (options.simulcast !== false && recommended ? toSendEncodings(recommended) : undefined);
		const producer = await transport.produce({
			track,
			stopTracks: false,
			appData: { source },
			...(encodings ? { encodings } : {}),
			...(options.codec ? { codec: options.codec } : {}),
			...(source === 'camera' && encodings ? { codecOptions: { videoGoogleStartBitrate: 1000 } } : {}),
		});
		if (generation !== this.#generation || this.#publications.get(source) !== publication) {
			producer.close();
			return;
		}
		publication.producer = producer;
		const sender = producer.rtpSender;
		publication.encodings = encodings && sender ? new EncodingSwitch(sender, (error) => this.#report(error)) : undefined;
		this.#state.setLocalMedia(source, publication.muted ? 'muted' : 'on');
		if (publication.muted) {
			producer.pause();
			await this.#signalling.request('pause', { producerId: producer.id });
		}
	}

	async #sendTransportFor(generation: number): Promise<MediaTransport> {
		if (this.#sendTransport && !this.#sendTransport.closed) return this.#sendTransport;
		const transport = await this.#createTransport('send', generation);
		this.#sendTransport = transport;
		return transport;
	}

	async #createTransport(direction: 'send' | 'recv', generation: number): Promise<MediaTransport> {
		const reply = (await this.#signalling.request('createTransport', { direction })) as WebRtcTransportReply;
		if (generation !== this.#generation) throw new RequestError('createTransport', 'disconnected', 'the call was rejoined meanwhile');
		const options = {
			id: reply.transportId,
			iceParameters: reply.iceParameters,
			iceCandidates: reply.iceCandidates,
			dtlsParameters: reply.dtlsParameters,
		};
		const transport = direction === 'send' ? this.#device.createSendTransport(options) : this.#device.createRecvTransport(options);
		transport.on('connect', ({ dtlsParameters }, callback, errback) => {
			this.#signalling
				.request('connectTransport', {
					transportId: transport.id,
					dtlsParameters: dtlsParameters as { fingerprints: { algorithm: string; value: string }[] },
				})
				.then(() => callback(), errback);
		});
		transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
			const source = appData['source'] as MediaSource | undefined;
			this.#signalling
				.request('produce', {
					transportId: transport.id,
					kind: kind as 'audio' | 'video',
					rtpParameters: rtpParameters as Opaque as { codecs: { mimeType: string; payloadType: number; clockRate: number }[] },
					appData: source ? { source } : {},
					...(source ? { source } : {}),
					...(kind === 'video' ? frameSize(source ? this.#publications.get(source)?.track : undefined) : {}),
				})
				.then(({ producerId }) => callback({ id: producerId }), errback);
		});
		transport.on('connectionstatechange', (state) => {
			if (state === 'failed') this.#report(new Error(`${direction} transport: ICE/DTLS connection failed`));
		});
		return transport;
	}

	/** Consumes what the state says is there and drops what is gone, one step at a time. */
	#syncConsumers(): void {
		const generation = this.#generation;
		this.#syncing = this.#syncing.then(() => this.#syncOnce(generation)).catch((error: unknown) => this.#report(error));
	}

	async #syncOnce(generation: number): Promise<void> {
		const transport = this.#recvTransport;
		if (!transport || generation !== this.#generation) return;
		const wanted = new Map(this.#state.wantedProducers.map((p) => [p.producerId, p]));
		for (const [producerId, consumer] of [...this.#consumers]) {
			if (wanted.has(producerId) && this.#state.consumerOf(producerId)?.consumerId === consumer.id) continue;
			this.#closeConsumer(producerId);
		}
		for (const producer of wanted.values()) {
			if (generation !== this.#generation) return;
			if (this.#consumers.has(producer.producerId) || !this.#state.wantedProducers.some((p) => p.producerId === producer.producerId))
				continue;
			try {
				await this.#consume(transport, producer, generation);
			} catch (error) {
				// The producer may have gone meanwhile; only a failure for one still there matters.
				const stillThere = this.#state.wantedProducers.some((p) => p.producerId === producer.producerId);
				if (stillThere && generation === this.#generation) this.#report(error);
			}
		}
	}

	async #consume(transport: MediaTransport, producer: RemoteProducer, generation: number): Promise<void> {
		const data = await this.#signalling.request('consume', { transportId: transport.id, producerId: producer.producerId });
		// Recorded before anything else runs, so a consumerClosed right behind the reply finds it.
		this.#state.addConsumer(data.consumerId, data.producerId);
		const consumer = await transport.consume({
			id: data.consumerId,
			producerId: data.producerId,
			kind: data.kind,
			rtpParameters: data.rtpParameters,
		});
		if (generation !== this.#generation || this.#state.consumerOf(producer.producerId)?.consumerId !== data.consumerId) {
			consumer.close();
			return;
		}
		this.#consumers.set(producer.producerId, consumer);
		const track = this.#remoteTrackInfo(producer.producerId, consumer);
		if (track) this.emit('trackAdded', track);
		await this.#signalling.request('resume', { consumerId: data.consumerId });
		this.#changed();
	}

	#remoteTrackInfo(producerId: string, consumer: MediaConsumer): RemoteTrack | undefined {
		const producer = this.#state.snapshot().producers.find((p) => p.producerId === producerId);
		if (!producer) return undefined;
		return {
			producerId,
			participantId: producer.participantId,
			kind: producer.kind,
			source: producer.source,
			consumerId: consumer.id,
			track: consumer.track,
		};
	}

	#closeConsumer(producerId: string): void {
		const consumer = this.#consumers.get(producerId);
		if (!consumer) return;
		this.#consumers.delete(producerId);
		this.#samples.delete(producerId);
		this.#state.removeConsumer(consumer.id);
		if (!consumer.closed) consumer.close();
		this.emit('trackRemoved', { producerId });
	}

	#updateView(): void {
		if (this.#manualView || !this.#sizes || this.#connection !== 'connected') return;
		const snapshot = this.#state.snapshot();
		const view = viewFor(snapshot.tiles, this.#sizes, snapshot.speakers, this.#capabilities.limits.maxVideos);
		void this.#sendView(view, false).catch((error: unknown) => this.#report(error));
	}

	async #sendView(view: ViewTile[] | string[], force: boolean): Promise<void> {
		const tiles: ViewTile[] = view.map((v) => (typeof v === 'string' ? { producerId: v, width: 0, height: 0 } : v));
		const key = viewKey(tiles);
		if (!force && key === this.#lastView) return;
		this.#lastView = key;
		const sized = tiles.every((t) => t.width > 0 && t.height > 0);
		const payload = sized ? { tiles } : { producerIds: tiles.map((t) => t.producerId) };
		await this.#signalling.request('setView', payload);
	}

	/** Closes the media objects of the current session (the SFT closed its side with the session). */
	#dropMedia(): void {
		for (const producerId of [...this.#consumers.keys()]) this.#closeConsumer(producerId);
		for (const publication of this.#publications.values()) {
			publication.producer?.close();
			publication.producer = undefined;
			publication.encodings = undefined;
		}
		this.#sendTransport?.close();
		this.#recvTransport?.close();
		this.#sendTransport = undefined;
		this.#recvTransport = undefined;
	}

	#end(ended: { reason: string; error?: RequestError | undefined }): void {
		if (this.#connection === 'ended') return;
		this.#stop();
		this.#state.apply('conferenceEnded', { reason: ended.reason });
		this.emit('connection', 'ended');
		this.emit('ended', ended);
		this.#changed();
	}

	#stop(): void {
		this.#connection = 'ended';
		this.#generation++;
		for (const off of this.#unsubscribe.splice(0)) off();
		this.#dropMedia();
	}

	#changed(): void {
		this.#updateView();
		this.emit('changed', this.#state.snapshot());
	}

	#report(error: unknown): void {
		this.emit('error', error instanceof Error ? error : new Error(String(error)));
	}
}
