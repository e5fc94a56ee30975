import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { types as ms } from 'mediasoup';
import type { Conference } from '../../sft/Conference.ts';
import type { Participant } from '../../sft/Participant.ts';
import {
	AUDIO_LEVEL_EXTENSION_ID,
	OPUS_PAYLOAD_TYPE,
	opusProducerParameters,
	VP8_PAYLOAD_TYPE,
	vp8ProducerParameters,
} from './producerParameters.ts';
import { isRtcp, keyFrameRequests, nowMs, parseRtpPacket } from './rtpPackets.ts';
import { StreamSender } from './streamSender.ts';
import { DelayHistogram, StreamCounter } from './streamStats.ts';

export interface AudioSendOptions {
	/** Constant level as -dBov (0 loudest, 127 silent). */
	levelDbov: number;
	packetsPerSecond?: number;
	payloadBytes?: number;
}

export interface VideoSendOptions {
	packetsPerSecond?: number;
	payloadBytes?: number;
	framesPerSecond?: number;
	keyFrameIntervalMs?: number;
}

export interface PlainRtpClientOptions {
	conference: Conference;
	/** Capabilities the client announces: the SFT's own (`sft.rtpCapabilities`). */
	rtpCapabilities: ms.RtpCapabilities;
	name: string;
	/** Address the client's sockets bind to (and the recv transport sends to). */
	host?: string;
	audio?: AudioSendOptions;
	video?: VideoSendOptions;
	/** Consume every remote producer, present and future (default true). */
	receive?: boolean;
	/** Send timer period; packets due in between go out together. */
	tickMs?: number;
	recvBufferBytes?: number;
}

export interface LocalStream {
	producer: ms.Producer;
	sender: StreamSender;
}

export interface RemoteStream {
	producerId: string;
	kind: ms.MediaKind;
	consumer: ms.Consumer;
	/** SSRC mediasoup sends this consumer with (rewritten from the sender's). */
	ssrc: number;
	/** The sending client's SSRC, which its send stamps carry as stream id. */
	senderSsrc: number;
	counter: StreamCounter;
}

/**
 * A raw-RTP load client driven through the `sft` object model (no
 * signalling): one participant with a comedia plain send transport and a
 * plain recv transport pointed at its own UDP socket.
 */
export class PlainRtpClient {
	readonly participant: Participant;
	readonly audio: LocalStream | undefined;
	readonly video: LocalStream | undefined;
	/** One-way delay of every stamped packet received. */
	readonly delay = new DelayHistogram();
	/** Optional second histogram per remote stream (e.g. streams that crossed a federation link vs local ones). */
	delayBreakdown: ((stream: RemoteStream) => DelayHistogram | undefined) | undefined;
	/** RTP that matched no consumer of ours, or could not be parsed. */
	unknownPackets = 0;
	/** mediasoup's bandwidth probes (it probes because consumers negotiate transport-cc). */
	probationPackets = 0;
	/** Packets whose stamp names one of our own streams: must stay 0. */
	ownPackets = 0;
	/** Packets whose stamp names another sender than the consumer's producer. */
	misrouted = 0;
	rtcpReceived = 0;
	keyFrameRequestsReceived = 0;
	readonly errors: Error[] = [];
	readonly #options: PlainRtpClientOptions;
	readonly #host: string;
	readonly #sendSocket: Socket;
	readonly #recvSocket: Socket;
	readonly #sendTarget: { ip: string; port: number } | undefined;
	readonly #recvTransportId: string | undefined;
	readonly #remote = new Map<string, RemoteStream>();
	readonly #bySsrc = new Map<number, RemoteStream>();
	readonly #consuming = new Map<string, Promise<RemoteStream>>();
	#unsubscribe: (() => void) | undefined;
	#timer: NodeJS.Timeout | undefined;
	#stopped = false;

	private constructor(init: {
		options: PlainRtpClientOptions;
		participant: Participant;
		sendSocket: Socket;
		recvSocket: Socket;
		sendTarget: { ip: string; port: number } | undefined;
		recvTransportId: string | undefined;
		audio: LocalStream | undefined;
		video: LocalStream | undefined;
	}) {
		this.#options = init.options;
		this.#host = init.options.host ?? '127.0.0.1';
		this.participant = init.participant;
		this.#sendSocket = init.sendSocket;
		this.#recvSocket = init.recvSocket;
		this.#sendTarget = init.sendTarget;
		this.#recvTransportId = init.recvTransportId;
		this.audio = init.audio;
		this.video = init.video;
		this.#sendSocket.on('message', (msg) => this.#onSendSocketMessage(msg));
		this.#recvSocket.on('message', (msg) => this.#onRecvSocketMessage(msg));
		for (const socket of [this.#sendSocket, this.#recvSocket]) socket.on('error', (error) => this.errors.push(error));
	}

	/** Joins the conference, produces the configured media and (by default) consumes everyone else. */
	static async join(options: PlainRtpClientOptions): Promise<PlainRtpClient> {
		const host = options.host ?? '127.0.0.1';
		const participant = options.conference.addParticipant(options.name, options.name, options.rtpCapabilities);
		const sockets: Socket[] = [];
		try {
			const sendSocket = await bindSocket(host, undefined);
			sockets.push(sendSocket);
			const recvSocket = await bindSocket(host, options.recvBufferBytes ?? 4 * 1024 * 1024);
			sockets.push(recvSocket);

			let sendTarget: { ip: string; port: number } | undefined;
			let audio: LocalStream | undefined;
			let video: LocalStream | undefined;
			if (options.audio || options.video) {
				const send = await participant.createPlainTransport('send');
				sendTarget = { ip: send.ip, port: send.port };
				if (options.audio) audio = await produceAudio(participant, send.transportId, options.name, options.audio);
				if (options.video) video = await produceVideo(participant, send.transportId, options.name, options.video);
			}

			let recvTransportId: string | undefined;
			if (options.receive ?? true) {
				const recv = await participant.createPlainTransport('recv');
				await participant.connectTransport(recv.transportId, { ip: host, port: recvSocket.address().port });
				recvTransportId = recv.transportId;
			}
			const client = new PlainRtpClient({ options, participant, sendSocket, recvSocket, sendTarget, recvTransportId, audio, video });
			if (recvTransportId) client.#consumeEveryone();
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

	get senders(): StreamSender[] {
		return [this.audio?.sender, this.video?.sender].filter((s): s is StreamSender => s !== undefined);
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

	/** Resolves once every consume started so far has finished. */
	async settled(): Promise<void> {
		let size = -1;
		while (size !== this.#consuming.size) {
			size = this.#consuming.size;
			await Promise.allSettled([...this.#consuming.values()]);
		}
	}

	startSending(): void {
		if (this.#timer || this.#stopped || !this.#sendTarget) return;
		const target = this.#sendTarget;
		const started = performance.now();
		const tick = () => {
			const elapsed = performance.now() - started;
			for (const sender of this.senders) {
				// Catch up at most 200 ms after a stall rather than flooding the socket.
				const maxBurst = Math.max(4, Math.ceil(sender.options.packetsPerSecond / 5));
				for (const packet of sender.due(elapsed, maxBurst)) this.#sendSocket.send(packet, target.port, target.ip);
			}
		};
		tick();
		this.#timer = setInterval(tick, this.#options.tickMs ?? 5);
	}

	stopSending(): void {
		clearInterval(this.#timer);
		this.#timer = undefined;
	}

	/** Stops sending, leaves the conference and closes both sockets. Safe to call twice. */
	async stop(): Promise<void> {
		if (this.#stopped) return;
		this.#stopped = true;
		this.stopSending();
		this.#unsubscribe?.();
		await Promise.allSettled([...this.#consuming.values()]);
		this.participant.close();
		await Promise.all([this.#sendSocket, this.#recvSocket].map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
	}

	#consumeEveryone(): void {
		const onProducer = (owner: Participant, producer: ms.Producer) => {
			if (owner === this.participant || this.#stopped) return;
			this.consumeProducer(producer).catch((error: unknown) => {
				// The producer may have closed between the event and our consume.
				if (!producer.closed) this.errors.push(error as Error);
			});
		};
		const conference = this.#options.conference;
		conference.on('producerAdded', onProducer);
		this.#unsubscribe = () => conference.off('producerAdded', onProducer);
		for (const other of conference.participants) for (const producer of other.producers) onProducer(other, producer);
	}

	async #consume(producer: ms.Producer): Promise<RemoteStream> {
		if (!this.#recvTransportId) throw new Error(`${this.#options.name} has no recv transport`);
		const consumer = await this.participant.consume(this.#recvTransportId, producer.id);
		const stream: RemoteStream = {
			producerId: producer.id,
			kind: consumer.kind,
			consumer,
			ssrc: consumer.rtpParameters.encodings?.[0]?.ssrc ?? 0,
			senderSsrc: producer.rtpParameters.encodings?.[0]?.ssrc ?? 0,
			counter: new StreamCounter(),
		};
		this.#remote.set(producer.id, stream);
		this.#bySsrc.set(stream.ssrc, stream);
		await this.participant.setConsumerPaused(consumer.id, false);
		return stream;
	}

	#onRecvSocketMessage(msg: Buffer): void {
		if (isRtcp(msg)) {
			this.rtcpReceived++;
			return;
		}
		const rtp = parseRtpPacket(msg);
		const stream = rtp && this.#bySsrc.get(rtp.ssrc);
		if (!rtp || !stream) {
			if (rtp?.ssrc === PROBATION_SSRC) this.probationPackets++;
			else this.unknownPackets++;
			return;
		}
		const counter = stream.counter;
		counter.packets++;
		counter.bytes += msg.length;
		const stamp = rtp.stamp;
		if (!stamp) {
			counter.unstamped++;
			return;
		}
		if (stamp.streamId === this.audio?.sender.ssrc || stamp.streamId === this.video?.sender.ssrc) this.ownPackets++;
		if (stamp.streamId !== stream.senderSsrc) this.misrouted++;
		if (!counter.seqs.add(stamp.seq)) counter.duplicates++;
		const delayMs = nowMs() - stamp.sentAtMs;
		this.delay.record(delayMs);
		this.delayBreakdown?.(stream)?.record(delayMs);
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

async function produceAudio(participant: Participant, transportId: string, cname: string, o: AudioSendOptions): Promise<LocalStream> {
	const ssrc = randomSsrc();
	const producer = await participant.produce(transportId, 'audio', opusProducerParameters(ssrc, cname));
	const sender = new StreamSender({
		kind: 'audio',
		ssrc,
		payloadType: OPUS_PAYLOAD_TYPE,
		packetsPerSecond: o.packetsPerSecond ?? 50,
		payloadBytes: o.payloadBytes ?? 100,
		audioLevelExtensionId: AUDIO_LEVEL_EXTENSION_ID,
		levelDbov: o.levelDbov,
	});
	return { producer, sender };
}

async function produceVideo(participant: Participant, transportId: string, cname: string, o: VideoSendOptions): Promise<LocalStream> {
	const ssrc = randomSsrc();
	const producer = await participant.produce(transportId, 'video', vp8ProducerParameters(ssrc, cname));
	const sender = new StreamSender({
		kind: 'video',
		ssrc,
		payloadType: VP8_PAYLOAD_TYPE,
		packetsPerSecond: o.packetsPerSecond ?? 100,
		payloadBytes: o.payloadBytes ?? 1100,
		framesPerSecond: o.framesPerSecond ?? 30,
		keyFrameIntervalMs: o.keyFrameIntervalMs ?? 2000,
	});
	return { producer, sender };
}

/** mediasoup's RtpProbationGenerator sends its padding-only probes with this SSRC. */
const PROBATION_SSRC = 1234;

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
