import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { types as ms } from 'mediasoup';
import type { Conference } from '../../sft/Conference.ts';
import type { Participant } from '../../sft/Participant.ts';
import { ownerOf, sourceOf } from '../../sft/producerMeta.ts';
import type { ViewTile } from '../../sft/simulcast.ts';
import {
	AUDIO_LEVEL_EXTENSION_ID,
	OPUS_PAYLOAD_TYPE,
	opusProducerParameters,
	VP8_PAYLOAD_TYPE,
	vp8ProducerParameters,
} from './producerParameters.ts';
import { keyFrameRequests } from './rtcpPackets.ts';
import { withBandwidthFeedback } from './rtpCapabilities.ts';
import { isRtcp, nowMs, readSendStamp, rtpPayloadOffset, type SendStamp } from './rtpPackets.ts';
import { joinSendLoop } from './sendLoop.ts';
import { type Layout, type RemoteVideo, speakerTiles } from './speakerLayout.ts';
import { AudioSender, type StreamSender } from './streamSender.ts';
import { DelayHistogram, StreamCounter } from './streamStats.ts';
import { TRANSPORT_CC_URI, TransportFeedback } from './transportFeedback.ts';
import { VideoLayerSender } from './videoLayerSender.ts';
import { singleLayerProfile, type VideoProfile } from './videoProfiles.ts';
import { parseVp8Descriptor } from './vp8Packets.ts';

export interface AudioSendOptions {
	/** Constant level as -dBov (0 loudest, 127 silent). */
	levelDbov: number;
	packetsPerSecond?: number;
	payloadBytes?: number;
}

export interface VideoSendOptions {
	/** What to publish; without one, a single layer built from the packet options below. */
	profile?: VideoProfile;
	packetsPerSecond?: number;
	payloadBytes?: number;
	framesPerSecond?: number;
	keyFrameIntervalMs?: number;
	source?: 'camera' | 'screen';
	/** Stop encoding layers the SFT says nobody needs (`encodingsNeeded`), as a real client does. */
	followEncodingHints?: boolean;
}

export interface PlainRtpClientOptions {
	conference: Conference;
	/** Capabilities the client announces: the SFT's own (`sft.rtpCapabilities`), or those of rtpCapabilities.ts. */
	rtpCapabilities: ms.RtpCapabilities;
	name: string;
	/** Address the client's sockets bind to (and the recv transport sends to). */
	host?: string;
	audio?: AudioSendOptions;
	video?: VideoSendOptions;
	/**
	 * What to consume: every remote producer, present and future (true, the
	 * default); nothing (false); or every audio producer and only the videos in
	 * `layout` ('viewed'), as a client of a large conference does. mediasoup
	 * charges a paused consumer for every packet of its producer (a dropped
	 * sequence number, kept until the 16-bit space wraps), so consuming every
	 * video of a large conference costs the worker dearly.
	 */
	receive?: boolean | 'viewed';
	/** Show remote videos in this layout, following the active speaker (default: the SFT's default view). */
	layout?: Layout;
	/**
	 * Announce transport-cc and send transport feedback, so mediasoup estimates
	 * this client's downlink and hands out layers by consumer priority; with a
	 * bottleneck, as if the downlink carried only that many bits/s.
	 */
	transportFeedback?: { bottleneckBitrate?: number };
	recvBufferBytes?: number;
}

export interface LocalStream<S extends StreamSender = StreamSender> {
	producer: ms.Producer;
	/** One per encoding, lowest layer first (audio and single-layer video: one). */
	senders: readonly S[];
	/** The first of `senders`: all of a single-layer stream. */
	sender: S;
}

export interface RemoteStream {
	producerId: string;
	kind: ms.MediaKind;
	consumer: ms.Consumer;
	/** SSRC mediasoup sends this consumer with (rewritten from the sender's). */
	ssrc: number;
	/** The sending client's SSRC of each encoding (lowest layer first); its send stamps carry it as stream id. */
	senderSsrcs: number[];
	/** senderSsrcs[0]: the stream id of a single-layer stream. */
	senderSsrc: number;
	/** What arrived of each encoding, by the stamps' stream ids. */
	layers: StreamCounter[];
	/** layers[0]: everything of a single-layer stream (and packets without a stamp). */
	counter: StreamCounter;
	/** Encoding index of the last packet received (-1: none yet). */
	currentLayer: number;
	/** Times the packets started coming from another encoding (the first packet counts). */
	layerSwitches: number;
	/** ... of which started with the first packet of a key frame, as they must. */
	layerSwitchesOnKeyFrame: number;
}

/**
 * The SSRCs each load client in this process sends each producer's encodings
 * with, by producer id. Stamps carry these; a relayed copy of a producer (a
 * federation pipe's) declares other SSRCs but keeps the id.
 */
const publishedSsrcs = new Map<string, readonly number[]>();

/** mediasoup's RtpProbationGenerator sends its padding-only probes with this SSRC. */
const PROBATION_SSRC = 1234;
/** mediasoup needs a sender report per simulcast layer before it switches a viewer to it. */
const SENDER_REPORT_INTERVAL_MS = 1000;
/** View changes come in bursts (joins, speaker changes): apply the layout once they settle. */
const LAYOUT_SETTLE_MS = 20;

/**
 * A raw-RTP load client driven through the `sft` object model (no
 * signalling): one participant with a comedia plain send transport and a
 * plain recv transport pointed at its own UDP socket. The per-packet paths
 * (send tick, receive handler) avoid allocations beyond the packet itself.
 */
export class PlainRtpClient {
	readonly participant: Participant;
	readonly audio: LocalStream<AudioSender> | undefined;
	readonly video: LocalStream<VideoLayerSender> | undefined;
	/** One-way delay of every stamped packet received. */
	readonly delay = new DelayHistogram();
	/** Optional second histogram per remote stream (e.g. streams that crossed a federation link vs local ones). */
	delayBreakdown: ((stream: RemoteStream) => DelayHistogram | undefined) | undefined;
	/** Called when packets of a remote stream start coming from another encoding (the first packet counts). */
	onLayerSwitch: ((stream: RemoteStream, layer: number) => void) | undefined;
	/** Called with the tiles of each new view, just before the SFT is told. */
	onView: ((tiles: readonly ViewTile[]) => void) | undefined;
	/** RTP that matched no consumer of ours, or could not be parsed. */
	unknownPackets = 0;
	/** mediasoup's bandwidth probes (it probes when consumers negotiate transport-cc or REMB). */
	probationPackets = 0;
	/** Packets whose stamp names one of our own streams: must stay 0. */
	ownPackets = 0;
	/** Packets whose stamp names another sender than the consumer's producer. */
	misrouted = 0;
	rtcpReceived = 0;
	keyFrameRequestsReceived = 0;
	readonly errors: Error[] = [];
	readonly #options: PlainRtpClientOptions;
	readonly #sendSocket: Socket;
	readonly #recvSocket: Socket;
	readonly #sends: boolean;
	readonly #remote = new Map<string, RemoteStream>();
	readonly #bySsrc = new Map<number, RemoteStream>();
	readonly #consuming = new Map<string, Promise<RemoteStream>>();
	readonly #recvTransportId: string | undefined;
	readonly #stamp: SendStamp = { streamId: 0, seq: 0, sentAtMs: 0 };
	readonly #unsubscribe: (() => void)[] = [];
	#leaveSendLoop: (() => void) | undefined;
	#layout: Layout | undefined;
	#layoutTimer: NodeJS.Timeout | undefined;
	#layoutKey = '';
	#layoutApplying: Promise<void> = Promise.resolve();
	#feedback: TransportFeedback | undefined;
	#bottleneck: number | undefined;
	#stopped = false;

	private constructor(init: {
		options: PlainRtpClientOptions;
		participant: Participant;
		sendSocket: Socket;
		recvSocket: Socket;
		sends: boolean;
		recvTransportId: string | undefined;
		audio: LocalStream<AudioSender> | undefined;
		video: LocalStream<VideoLayerSender> | undefined;
	}) {
		this.#options = init.options;
		this.participant = init.participant;
		this.#sendSocket = init.sendSocket;
		this.#recvSocket = init.recvSocket;
		this.#sends = init.sends;
		this.#recvTransportId = init.recvTransportId;
		this.#bottleneck = init.options.transportFeedback?.bottleneckBitrate;
		this.audio = init.audio;
		this.video = init.video;
		this.#sendSocket.on('message', (msg) => this.#onSendSocketMessage(msg));
		this.#recvSocket.on('message', (msg) => this.#onRecvSocketMessage(msg));
		for (const socket of [this.#sendSocket, this.#recvSocket]) socket.on('error', (error) => this.errors.push(error));
	}

	/** Joins the conference, produces the configured media and (by default) consumes everyone else. */
	static async join(options: PlainRtpClientOptions): Promise<PlainRtpClient> {
		if (options.receive === 'viewed' && !options.layout) throw new Error("receive: 'viewed' needs a layout");
		const host = options.host ?? '127.0.0.1';
		const announced = options.transportFeedback ? withBandwidthFeedback(options.rtpCapabilities, 'transport-cc') : options.rtpCapabilities;
		const participant = options.conference.addParticipant(options.name, options.name, announced);
		const sockets: Socket[] = [];
		try {
			const sendSocket = await bindSocket(host, undefined);
			sockets.push(sendSocket);
			const recvSocket = await bindSocket(host, options.recvBufferBytes ?? 4 * 1024 * 1024);
			sockets.push(recvSocket);

			let audio: LocalStream<AudioSender> | undefined;
			let video: LocalStream<VideoLayerSender> | undefined;
			const sends = options.audio !== undefined || options.video !== undefined;
			if (sends) {
				const send = await participant.createPlainTransport('send');
				// Connected: no address lookup per packet, and only the transport's RTCP comes back.
				await connectSocket(sendSocket, send.ip, send.port);
				if (options.audio) audio = await produceAudio(participant, send.transportId, options.name, options.audio);
				if (options.video) video = await produceVideo(participant, send.transportId, options.name, options.video);
			}

			let recvTransportId: string | undefined;
			if (options.receive ?? true) {
				const recv = await participant.createPlainTransport('recv');
				await participant.connectTransport(recv.transportId, { ip: host, port: recvSocket.address().port });
				await connectSocket(recvSocket, recv.ip, recv.port);
				recvTransportId = recv.transportId;
			}
			const client = new PlainRtpClient({ options, participant, sendSocket, recvSocket, sends, recvTransportId, audio, video });
			for (const local of client.localStreams)
				publishedSsrcs.set(
					local.producer.id,
					local.senders.map((s) => s.ssrc),
				);
			if (recvTransportId) client.#consumeEveryone();
			if (options.layout) client.#followSpeaker(options.layout);
			if (options.video?.followEncodingHints) client.#followEncodingHints();
			return client;
		} catch (error) {
			participant.close();
			for (const socket of sockets) socket.close();
			throw error;
		}
	}

	get remoteStreams(): RemoteStream[] {
		return [...this.#remote.values()];
	}

	remote(producerId: string): RemoteStream | undefined {
		return this.#remote.get(producerId);
	}

	/** What this client publishes: its audio and video producers with their senders. */
	get localStreams(): LocalStream[] {
		const streams: LocalStream[] = [];
		if (this.audio) streams.push(this.audio);
		if (this.video) streams.push(this.video);
		return streams;
	}

	/** Local UDP ports of the client's two sockets (for per-socket kernel drop counts). */
	get socketPorts(): number[] {
		return [this.#sendSocket.address().port, this.#recvSocket.address().port];
	}

	/** Every stream this client sends: audio, then each video layer. */
	get senders(): StreamSender[] {
		return [...(this.audio?.senders ?? []), ...(this.video?.senders ?? [])];
	}

	/** Consumes one producer and resumes the consumer, as a client does once it has set up its decoder. */
	consumeProducer(producer: ms.Producer): Promise<RemoteStream> {
		const pending = this.#consuming.get(producer.id);
		if (pending) return pending;
		const consuming = this.#consume(producer);
		this.#consuming.set(producer.id, consuming);
		// A refused consume may be retried (and its error stays the caller's).
		consuming.catch(() => this.#consuming.delete(producer.id));
		return consuming;
	}

	/** Resolves once every consume started so far, and the layout they led to, have been applied. */
	async settled(): Promise<void> {
		for (;;) {
			if (this.#layoutTimer) this.#applyLayout();
			await this.#layoutApplying;
			const pending = [...this.#consuming.values()];
			await Promise.allSettled(pending);
			if (pending.length === this.#consuming.size && !this.#layoutTimer) return;
		}
	}

	startSending(): void {
		if (this.#leaveSendLoop || this.#stopped || !this.#sends) return;
		const senders = this.senders;
		const videoSenders = senders.filter((s) => s.kind === 'video');
		const send = (packet: Buffer) => this.#sendSocket.send(packet);
		const started = performance.now();
		let nextReportAt = 0;
		this.#leaveSendLoop = joinSendLoop(() => {
			const elapsed = performance.now() - started;
			for (const sender of senders) sender.drain(elapsed, send);
			if (elapsed >= nextReportAt) {
				nextReportAt = elapsed + SENDER_REPORT_INTERVAL_MS;
				for (const sender of videoSenders) if (sender.sent > 0) send(sender.senderReport(elapsed));
			}
		});
	}

	stopSending(): void {
		this.#leaveSendLoop?.();
		this.#leaveSendLoop = undefined;
	}

	/** With transportFeedback: report arrivals from now on as behind a downlink of `bitrate` bits/s (undefined: unlimited). */
	setBottleneck(bitrate: number | undefined): void {
		this.#bottleneck = bitrate;
		this.#feedback?.setBottleneck(bitrate);
	}

	/** Stops sending, leaves the conference and closes both sockets. Safe to call twice. */
	async stop(): Promise<void> {
		if (this.#stopped) return;
		this.#stopped = true;
		this.stopSending();
		for (const local of this.localStreams) publishedSsrcs.delete(local.producer.id);
		clearTimeout(this.#layoutTimer);
		this.#feedback?.stop();
		for (const off of this.#unsubscribe) off();
		await Promise.allSettled([...this.#consuming.values()]);
		this.participant.close();
		await Promise.all([this.#sendSocket, this.#recvSocket].map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
	}

	#consumeEveryone(): void {
		const videoToo = this.#options.receive !== 'viewed';
		const onProducer = (owner: Participant, producer: ms.Producer) => {
			if (owner === this.participant || this.#stopped || (producer.kind === 'video' && !videoToo)) return;
			this.#consumeQuietly(producer);
		};
		this.#unsubscribe.push(this.#options.conference.subscribe('producerAdded', onProducer));
		for (const other of this.#options.conference.participants) for (const producer of other.producers) onProducer(other, producer);
	}

	#consumeQuietly(producer: ms.Producer): void {
		this.consumeProducer(producer).catch((error: unknown) => {
			// The producer may have closed between the event and our consume.
			if (!producer.closed) this.errors.push(error as Error);
		});
	}

	/** Keeps the view in `layout`, the stage on the loudest remote speaker, as the conference changes. */
	#followSpeaker(layout: Layout): void {
		const schedule = () => {
			if (this.#layoutTimer || this.#stopped) return;
			this.#layoutTimer = setTimeout(() => this.#applyLayout(), LAYOUT_SETTLE_MS);
		};
		this.#layout = layout;
		const conference = this.#options.conference;
		this.#unsubscribe.push(
			conference.subscribe('producerAdded', schedule),
			conference.subscribe('producerClosed', schedule),
			conference.subscribe('activeSpeakers', schedule),
		);
		schedule();
	}

	#applyLayout(): void {
		clearTimeout(this.#layoutTimer);
		this.#layoutTimer = undefined;
		if (!this.#layout || this.#stopped) return;
		const conference = this.#options.conference;
		const videos: RemoteVideo[] = [];
		const audioOwners = new Map<string, string>();
		for (const p of conference.participants) {
			for (const producer of p.producers) {
				if (producer.kind === 'audio') audioOwners.set(producer.id, ownerOf(producer));
				else if (p !== this.participant) videos.push({ producerId: producer.id, ownerId: p.id, screen: sourceOf(producer) === 'screen' });
			}
		}
		const speakers = conference.audioRanking.map((id) => audioOwners.get(id) ?? '');
		const tiles = speakerTiles(videos, speakers, this.#layout);
		const key = tiles.map((t) => `${t.producerId}:${t.size?.width}`).join(',');
		if (key === this.#layoutKey) return;
		this.#layoutKey = key;
		this.#layoutApplying = this.#layoutApplying
			.then(async () => {
				this.onView?.(tiles);
				await this.participant.setView(tiles);
				if (this.#options.receive !== 'viewed') return;
				// Consumed after the view is set, so each starts on the layer its tile needs.
				for (const tile of tiles) {
					const producer = conference.getProducer(tile.producerId);
					if (producer && !this.#remote.has(producer.id)) this.#consumeQuietly(producer);
				}
			})
			.catch((error: unknown) => {
				if (!this.participant.closed) this.errors.push(error as Error);
			});
	}

	/** Switches layers of our video on and off as the SFT's `encodingsNeeded` says. */
	#followEncodingHints(): void {
		const onHint = (owner: Participant, producerId: string, active: boolean[]) => {
			if (owner !== this.participant || producerId !== this.video?.producer.id) return;
			for (const [i, sender] of this.video.senders.entries()) sender.setActive(active[i] ?? true);
		};
		this.#unsubscribe.push(this.#options.conference.subscribe('encodingsNeeded', onHint));
	}

	async #consume(producer: ms.Producer): Promise<RemoteStream> {
		if (!this.#recvTransportId) throw new Error(`${this.#options.name} has no recv transport`);
		const consumer = await this.participant.consume(this.#recvTransportId, producer.id);
		const senderSsrcs = [...(publishedSsrcs.get(producer.id) ?? (producer.rtpParameters.encodings ?? []).map((e) => e.ssrc ?? 0))];
		const layers = senderSsrcs.map(() => new StreamCounter());
		const first = layers[0] ?? new StreamCounter();
		const stream: RemoteStream = {
			producerId: producer.id,
			kind: consumer.kind,
			consumer,
			ssrc: consumer.rtpParameters.encodings?.[0]?.ssrc ?? 0,
			senderSsrcs,
			senderSsrc: senderSsrcs[0] ?? 0,
			layers: layers.length > 0 ? layers : [first],
			counter: first,
			currentLayer: -1,
			layerSwitches: 0,
			layerSwitchesOnKeyFrame: 0,
		};
		this.#remote.set(producer.id, stream);
		this.#bySsrc.set(stream.ssrc, stream);
		if (this.#options.transportFeedback) this.#startFeedback(consumer);
		await this.participant.setConsumerPaused(consumer.id, false);
		return stream;
	}

	/** Transport feedback every 50 ms (as Chrome), once the first consumer tells the extension id. */
	#startFeedback(consumer: ms.Consumer): void {
		if (this.#feedback) return;
		const id = consumer.rtpParameters.headerExtensions?.find((e) => e.uri === TRANSPORT_CC_URI)?.id;
		if (id === undefined) return;
		const feedback = new TransportFeedback(id);
		feedback.setBottleneck(this.#bottleneck);
		this.#feedback = feedback;
		feedback.startSending(consumer.rtpParameters.encodings?.[0]?.ssrc ?? 0, (packet) => this.#recvSocket.send(packet));
	}

	#onRecvSocketMessage(msg: Buffer): void {
		if (isRtcp(msg)) {
			this.rtcpReceived++;
			return;
		}
		this.#feedback?.onPacket(msg, performance.now());
		const stream = msg.length >= 12 ? this.#bySsrc.get(msg.readUInt32BE(8)) : undefined;
		if (!stream) {
			if (msg.length >= 12 && msg.readUInt32BE(8) === PROBATION_SSRC) this.probationPackets++;
			else this.unknownPackets++;
			return;
		}
		const offset = rtpPayloadOffset(msg);
		const stamp = this.#stamp;
		if (offset < 0 || !readSendStamp(msg, offset, stamp)) {
			stream.counter.packets++;
			stream.counter.bytes += msg.length;
			stream.counter.unstamped++;
			return;
		}
		const layer = stream.senderSsrcs.indexOf(stamp.streamId);
		const counter = stream.layers[layer];
		if (!counter) {
			if (this.senders.some((s) => s.ssrc === stamp.streamId)) this.ownPackets++;
			else this.misrouted++;
			return;
		}
		counter.packets++;
		counter.bytes += msg.length;
		if (layer !== stream.currentLayer) this.#onLayerSwitch(stream, layer, msg.subarray(offset));
		if (!counter.seqs.add(stamp.seq)) counter.duplicates++;
		const delayMs = nowMs() - stamp.sentAtMs;
		this.delay.record(delayMs);
		this.delayBreakdown?.(stream)?.record(delayMs);
	}

	#onLayerSwitch(stream: RemoteStream, layer: number, payload: Buffer): void {
		stream.currentLayer = layer;
		stream.layerSwitches++;
		this.onLayerSwitch?.(stream, layer);
		if (stream.kind !== 'video' || parseVp8Descriptor(payload)?.keyFrame) stream.layerSwitchesOnKeyFrame++;
	}

	#onSendSocketMessage(msg: Buffer): void {
		// The send transport only sends us RTCP: receiver reports and key frame requests.
		if (!isRtcp(msg)) return;
		for (const ssrc of keyFrameRequests(msg)) {
			const sender = this.senders.find((s) => s.ssrc === ssrc);
			if (sender) {
				this.keyFrameRequestsReceived++;
				sender.requestKeyFrame();
			}
		}
	}
}

async function produceAudio(
	participant: Participant,
	transportId: string,
	cname: string,
	o: AudioSendOptions,
): Promise<LocalStream<AudioSender>> {
	const ssrc = randomSsrc();
	const producer = await participant.produce(transportId, 'audio', opusProducerParameters(ssrc, cname));
	const sender = new AudioSender({
		ssrc,
		payloadType: OPUS_PAYLOAD_TYPE,
		packetsPerSecond: o.packetsPerSecond ?? 50,
		payloadBytes: o.payloadBytes ?? 100,
		audioLevelExtensionId: AUDIO_LEVEL_EXTENSION_ID,
		levelDbov: o.levelDbov,
	});
	return { producer, senders: [sender], sender };
}

async function produceVideo(
	participant: Participant,
	transportId: string,
	cname: string,
	o: VideoSendOptions,
): Promise<LocalStream<VideoLayerSender>> {
	const profile =
		o.profile ??
		singleLayerProfile({
			packetsPerSecond: o.packetsPerSecond ?? 100,
			payloadBytes: o.payloadBytes ?? 1100,
			framesPerSecond: o.framesPerSecond ?? 30,
			keyFrameIntervalMs: o.keyFrameIntervalMs ?? 2000,
		});
	const ssrcs = profile.layers.map(() => randomSsrc());
	const top = profile.layers[profile.layers.length - 1];
	const producer = await participant.produce(transportId, 'video', vp8ProducerParameters(ssrcs, cname, profile.layers), {
		source: o.source ?? 'camera',
		size: top ? { width: top.width, height: top.height } : undefined,
	});
	const senders = profile.layers.map(
		(layer, i) => new VideoLayerSender({ ssrc: ssrcs[i] ?? 0, payloadType: VP8_PAYLOAD_TYPE, layer, profile }),
	);
	const [first] = senders;
	if (!first) throw new Error(`profile ${profile.name} has no layers`);
	return { producer, senders, sender: first };
}

function randomSsrc(): number {
	return randomInt(1, 0xffffffff);
}

function bindSocket(host: string, recvBufferBytes: number | undefined): Promise<Socket> {
	return new Promise((resolve, reject) => {
		const socket = createSocket({
			type: host.includes(':') ? 'udp6' : 'udp4',
			...(recvBufferBytes ? { recvBufferSize: recvBufferBytes } : {}),
		});
		socket.once('error', reject);
		socket.bind(0, host, () => {
			socket.off('error', reject);
			resolve(socket);
		});
	});
}

function connectSocket(socket: Socket, ip: string, port: number): Promise<void> {
	return new Promise((resolve, reject) => {
		socket.once('error', reject);
		socket.connect(port, ip, () => {
			socket.off('error', reject);
			resolve();
		});
	});
}
