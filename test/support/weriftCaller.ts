// A calling client that runs in Node: socket.io signalling plus the official
// mediasoup-client on werift's RTCPeerConnection polyfill (real ICE, DTLS and
// SRTP over UDP). It sends a synthetic Opus track and a synthetic VP8 track
// fed with generated RTP, consumes every remote producer, and counts the
// unique RTP sequence numbers it receives per producer.

import { Device, type types as msc } from 'mediasoup-client';
import type { ProducerInfo } from '../../signalling/client/protocol.ts';
import type { ConferenceDescriptor } from '../../signalling/federation/relay/linkMessages.ts';
import { type RequestInput, type ResponseData, SignallingClient } from './signallingClient.ts';

let polyfillInstalled: Promise<void> | undefined;

/**
 * Installs werift's WebRTC globals once per process. Host candidates include
 * loopback, which werift leaves out by default, so calls work on 127.0.0.1.
 */
export function installWeriftPolyfill(): Promise<void> {
	polyfillInstalled ??= (async () => {
		const { installPolyfill } = await import('werift/polyfill');
		installPolyfill({
			mediaRegister: [],
			peerConnectionConfig: { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false, iceUseTcp: false, iceTcpPassive: false },
		});
	})();
	return polyfillInstalled;
}

export interface WeriftCallerOptions {
	/** https://127.0.0.1:PORT of the SFT client listener. */
	url: string;
	/** PEM the client trusts (SftServer.selfSignedCert). */
	ca?: string | undefined;
	conferenceId: string;
	token?: string | undefined;
	displayName?: string;
	/** Another domain's conference descriptor: join it through this SFT. */
	descriptor?: ConferenceDescriptor | undefined;
	/** Send a synthetic Opus track (default true). */
	audio?: boolean;
	/** Send a synthetic VP8 track (default true). */
	video?: boolean;
	/** Consume every remote producer and resume it (default true). */
	consume?: boolean;
	audioPacketsPerSecond?: number;
	videoFramesPerSecond?: number;
	/** A VP8 keyframe at least this often (also one right after a PLI/FIR). */
	keyframeIntervalMs?: number;
}

export interface ReceivedStream {
	producerId: string;
	consumerId: string;
	kind: 'audio' | 'video';
	consumer: msc.Consumer;
	/** Unique RTP sequence numbers seen (werift re-delivers retransmissions). */
	sequenceNumbers: Set<number>;
	closed: boolean;
}

type WeriftTrack = MediaStreamTrack & {
	writeRtp(rtp: Buffer): void;
	onReceiveRtp: { subscribe(fn: (rtp: { header: { sequenceNumber: number } }) => void): { unSubscribe(): void } };
};
type WeriftSender = { onPictureLossIndication?: { subscribe(fn: () => void): unknown } };

export class WeriftCaller {
	readonly signalling: SignallingClient;
	readonly device: Device;
	readonly conferenceId: string;
	participantId = '';
	/** The join reply (with the descriptor to hand to callers of other domains). */
	joinReply: ResponseData['join'] | undefined;
	audioProducerId: string | undefined;
	videoProducerId: string | undefined;
	/** Remote producers announced (at join or by producerAdded) and not closed. */
	readonly remoteProducers = new Map<string, ProducerInfo>();
	/** What this client receives, by remote producer id. */
	readonly streams = new Map<string, ReceivedStream>();
	/** Failures in background work (consume, RTP sending); tests assert this stays empty. */
	readonly errors: Error[] = [];
	/** Set when the server ends the conference. */
	endedReason: string | undefined;
	#options: Required<
		Pick<WeriftCallerOptions, 'audio' | 'video' | 'consume' | 'audioPacketsPerSecond' | 'videoFramesPerSecond' | 'keyframeIntervalMs'>
	>;
	#sendTransport: msc.Transport | undefined;
	#recvTransport: msc.Transport | undefined;
	#consumeQueue: Promise<void> = Promise.resolve();
	#timers: NodeJS.Timeout[] = [];
	#closed = false;

	private constructor(signalling: SignallingClient, device: Device, options: WeriftCallerOptions) {
		this.signalling = signalling;
		this.device = device;
		this.conferenceId = options.conferenceId;
		this.#options = {
			audio: options.audio ?? true,
			video: options.video ?? true,
			consume: options.consume ?? true,
			audioPacketsPerSecond: options.audioPacketsPerSecond ?? 50,
			videoFramesPerSecond: options.videoFramesPerSecond ?? 30,
			keyframeIntervalMs: options.keyframeIntervalMs ?? 1000,
		};
	}

	/** Connects, joins, sets up transports, starts sending and (optionally) consuming. */
	static async join(options: WeriftCallerOptions): Promise<WeriftCaller> {
		await installWeriftPolyfill();
		const signalling = await SignallingClient.connect({ url: options.url, ca: options.ca });
		const caller = new WeriftCaller(signalling, new Device({ handlerName: 'Chrome111' }), options);
		try {
			await caller.#start(options);
		} catch (error) {
			await caller.close();
			throw error;
		}
		return caller;
	}

	async #start(options: WeriftCallerOptions): Promise<void> {
		const { signalling } = this;
		signalling.on('producerAdded', (info) => {
			this.remoteProducers.set(info.producerId, info);
			this.#enqueueConsume(info);
		});
		signalling.on('producerClosed', ({ producerId }) => {
			this.remoteProducers.delete(producerId);
			this.#dropStream(producerId);
		});
		signalling.on('consumerClosed', ({ producerId }) => this.#dropStream(producerId));
		signalling.on('conferenceEnded', ({ reason }) => {
			this.endedReason = reason;
			this.#stopSending();
		});

		const caps = await signalling.request('getCapabilities', {});
		await this.device.load({ routerRtpCapabilities: caps.rtpCapabilities as unknown as msc.RtpCapabilities });
		const joined: ResponseData['join'] = await signalling.request('join', {
			conferenceId: options.conferenceId,
			...(options.token !== undefined ? { token: options.token } : {}),
			displayName: options.displayName ?? 'werift caller',
			rtpCapabilities: this.device.rtpCapabilities as unknown as Record<string, unknown>,
			...(options.descriptor ? { descriptor: options.descriptor } : {}),
		});
		this.joinReply = joined;
		this.participantId = joined.participantId;
		for (const info of joined.producers) this.remoteProducers.set(info.producerId, info);

		if (this.#options.consume) {
			this.#recvTransport = await this.#createTransport('recv');
			// Includes producers announced while the transport was being created
			// (in a federated join the partner's streams arrive right then).
			for (const info of this.remoteProducers.values()) this.#enqueueConsume(info);
		}
		if (this.#options.audio || this.#options.video) {
			await this.#startSending();
		}
	}

	async #createTransport(direction: 'send' | 'recv'): Promise<msc.Transport> {
		const params = await this.signalling.request('createTransport', { direction, type: 'webrtc' });
		const transportOptions = {
			id: params.transportId,
			iceParameters: params.iceParameters as unknown as msc.IceParameters,
			iceCandidates: params.iceCandidates as unknown as msc.IceCandidate[],
			dtlsParameters: params.dtlsParameters as unknown as msc.DtlsParameters,
		};
		const transport =
			direction === 'send' ? this.device.createSendTransport(transportOptions) : this.device.createRecvTransport(transportOptions);
		transport.on('connect', ({ dtlsParameters }, callback, errback) => {
			this.signalling
				.request('connectTransport', {
					transportId: transport.id,
					dtlsParameters: dtlsParameters as unknown as { fingerprints: { algorithm: string; value: string }[] },
				})
				.then(
					() => callback(),
					(error: Error) => errback(error),
				);
		});
		if (direction === 'send') {
			transport.on('produce', ({ kind, rtpParameters, appData }, callback, errback) => {
				this.signalling
					.request('produce', {
						transportId: transport.id,
						kind,
						rtpParameters: rtpParameters as unknown as RequestInput<'produce'>['rtpParameters'],
						appData: appData as Record<string, string>,
					})
					.then(
						({ producerId }) => callback({ id: producerId }),
						(error: Error) => errback(error),
					);
			});
		}
		return transport;
	}

	async #startSending(): Promise<void> {
		const transport = await this.#createTransport('send');
		this.#sendTransport = transport;
		const TrackClass = globalThis.MediaStreamTrack as unknown as new (props: { kind: 'audio' | 'video' }) => WeriftTrack;
		let audioTrack: WeriftTrack | undefined;
		let videoTrack: WeriftTrack | undefined;
		let keyframeRequested = true;
		if (this.#options.audio) {
			audioTrack = new TrackClass({ kind: 'audio' });
			const producer = await transport.produce({ track: audioTrack, stopTracks: false, appData: { source: 'mic' } });
			this.audioProducerId = producer.id;
		}
		if (this.#options.video) {
			videoTrack = new TrackClass({ kind: 'video' });
			const producer = await transport.produce({ track: videoTrack, stopTracks: false, appData: { source: 'camera' } });
			this.videoProducerId = producer.id;
			(producer.rtpSender as unknown as WeriftSender | undefined)?.onPictureLossIndication?.subscribe(() => {
				keyframeRequested = true;
			});
		}
		// werift drops RTP written before its DTLS transport is up.
		await waitForConnected(transport, 15_000);
		if (this.#closed || this.endedReason !== undefined) return;

		const safe = (fn: () => void) => () => {
			try {
				fn();
			} catch (error) {
				if (this.errors.length < 10) this.errors.push(error as Error);
			}
		};
		if (audioTrack) {
			const audio = new RtpStream(111, 960);
			const track = audioTrack;
			this.#timers.push(
				setInterval(
					safe(() => track.writeRtp(audio.next(OPUS_SILENCE, true))),
					1000 / this.#options.audioPacketsPerSecond,
				),
			);
		}
		if (videoTrack) {
			const video = new RtpStream(96, Math.round(90_000 / this.#options.videoFramesPerSecond));
			const track = videoTrack;
			let pictureId = Math.floor(Math.random() * 0x7fff);
			let lastKeyframe = 0;
			this.#timers.push(
				setInterval(
					safe(() => {
						const now = Date.now();
						const keyframe = keyframeRequested || now - lastKeyframe >= this.#options.keyframeIntervalMs;
						if (keyframe) {
							keyframeRequested = false;
							lastKeyframe = now;
						}
						pictureId = (pictureId + 1) & 0x7fff;
						track.writeRtp(video.next(vp8Payload(pictureId, keyframe), true));
					}),
					1000 / this.#options.videoFramesPerSecond,
				),
			);
		}
	}

	#enqueueConsume(info: ProducerInfo): void {
		if (!this.#options.consume || !this.#recvTransport) return;
		this.#consumeQueue = this.#consumeQueue
			.then(() => this.#consume(info))
			.catch((error: Error) => {
				if (!this.#closed && this.endedReason === undefined) this.errors.push(error);
			});
	}

	async #consume(info: ProducerInfo): Promise<void> {
		const transport = this.#recvTransport;
		if (!transport || this.#closed || this.streams.has(info.producerId) || !this.remoteProducers.has(info.producerId)) return;
		const data = await this.signalling.request('consume', { transportId: transport.id, producerId: info.producerId });
		const consumer = await transport.consume({
			id: data.consumerId,
			producerId: data.producerId,
			kind: data.kind,
			rtpParameters: data.rtpParameters as unknown as msc.RtpParameters,
		});
		const stream: ReceivedStream = {
			producerId: data.producerId,
			consumerId: data.consumerId,
			kind: data.kind,
			consumer,
			sequenceNumbers: new Set(),
			closed: false,
		};
		this.streams.set(data.producerId, stream);
		(consumer.track as WeriftTrack).onReceiveRtp.subscribe((rtp) => {
			if (!stream.closed) stream.sequenceNumbers.add(rtp.header.sequenceNumber);
		});
		await this.signalling.request('resume', { consumerId: data.consumerId });
	}

	#dropStream(producerId: string): void {
		const stream = this.streams.get(producerId);
		if (!stream || stream.closed) return;
		stream.closed = true;
		try {
			stream.consumer.close();
		} catch {
			// transport already gone
		}
	}

	/** Unique RTP packets received so far from a remote producer (0 if not consumed). */
	receivedCount(producerId: string | undefined): number {
		return producerId === undefined ? 0 : (this.streams.get(producerId)?.sequenceNumbers.size ?? 0);
	}

	/** Remote producer ids of one kind that this client consumes. */
	consumedProducerIds(kind?: 'audio' | 'video'): string[] {
		return [...this.streams.values()].filter((s) => !s.closed && (kind === undefined || s.kind === kind)).map((s) => s.producerId);
	}

	async setView(producerIds: string[]): Promise<void> {
		await this.signalling.request('setView', { producerIds });
	}

	#stopSending(): void {
		for (const timer of this.#timers.splice(0)) clearInterval(timer);
	}

	/** Stops media, leaves (if still possible) and closes transports and the socket. Never throws. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.#stopSending();
		if (this.signalling.connected && this.endedReason === undefined && this.participantId) {
			await this.signalling.request('leave', {}, 2000).catch(() => undefined);
		}
		for (const transport of [this.#sendTransport, this.#recvTransport]) {
			try {
				transport?.close();
			} catch {
				// already closed
			}
		}
		this.signalling.close();
	}
}

/** Polls until `predicate` holds; rejects with `what` after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!predicate()) {
		if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

function waitForConnected(transport: msc.Transport, timeoutMs: number): Promise<void> {
	if (transport.connectionState === 'connected') return Promise.resolve();
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			transport.off('connectionstatechange', onChange);
			reject(new Error(`send transport not connected after ${timeoutMs} ms (state ${transport.connectionState})`));
		}, timeoutMs);
		const onChange = (state: msc.ConnectionState) => {
			if (state === 'connected') {
				clearTimeout(timer);
				transport.off('connectionstatechange', onChange);
				resolve();
			} else if (state === 'failed' || state === 'closed') {
				clearTimeout(timer);
				transport.off('connectionstatechange', onChange);
				reject(new Error(`send transport ${state}`));
			}
		};
		transport.on('connectionstatechange', onChange);
	});
}

/** Sequence numbers, timestamps and an SSRC for one synthetic RTP stream (werift rewrites PT and SSRC). */
class RtpStream {
	readonly #payloadType: number;
	readonly #timestampStep: number;
	readonly #ssrc = Math.floor(Math.random() * 0xffffffff) >>> 0;
	#sequenceNumber = Math.floor(Math.random() * 0xffff);
	#timestamp = Math.floor(Math.random() * 0xffffffff) >>> 0;

	constructor(payloadType: number, timestampStep: number) {
		this.#payloadType = payloadType;
		this.#timestampStep = timestampStep;
	}

	next(payload: Buffer, marker: boolean): Buffer {
		const header = Buffer.alloc(12);
		header[0] = 0x80;
		header[1] = (marker ? 0x80 : 0) | this.#payloadType;
		header.writeUInt16BE(this.#sequenceNumber, 2);
		header.writeUInt32BE(this.#timestamp, 4);
		header.writeUInt32BE(this.#ssrc, 8);
		this.#sequenceNumber = (this.#sequenceNumber + 1) & 0xffff;
		this.#timestamp = (this.#timestamp + this.#timestampStep) >>> 0;
		return Buffer.concat([header, payload]);
	}
}

/** An Opus TOC byte (SILK 20 ms, one frame) and a few bytes of silence. */
const OPUS_SILENCE = Buffer.from([0x08, 0xff, 0xfe, 0x00]);

/**
 * One VP8 frame in one packet: payload descriptor with a 15-bit picture id
 * (X=1 S=1 PID=0; I=1; M=1), then the VP8 payload header. A keyframe carries
 * P=0, the start code and a 320x240 size; an inter frame only P=1.
 */
function vp8Payload(pictureId: number, keyframe: boolean): Buffer {
	const descriptor = Buffer.from([0x90, 0x80, 0x80 | (pictureId >> 8), pictureId & 0xff]);
	const body = keyframe
		? Buffer.from([0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 320 & 0xff, 320 >> 8, 240 & 0xff, 240 >> 8, 0, 0, 0, 0, 0, 0])
		: Buffer.from([0x11, 0x02, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
	return Buffer.concat([descriptor, body]);
}
