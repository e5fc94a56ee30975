// A calling client that runs in Node: the SDK (client/) on werift's
// RTCPeerConnection polyfill (real ICE, DTLS and SRTP over UDP). It sends a
// synthetic Opus track and a synthetic VP8 track fed with generated RTP, lets
// the SDK consume every remote producer, and counts the unique RTP sequence
// numbers it receives per producer.

import type { Call, RemoteTrack } from '../../client/Call.ts';
import { installWeriftPolyfill, weriftDevice } from '../../client/node.ts';
import type { ConferenceDescriptor, ProducerInfo } from '../../client/protocol.ts';
import { SftClient } from '../../client/SftClient.ts';
import { SignallingClient } from './signallingClient.ts';

export { installWeriftPolyfill };

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
	/** Reconnect and rejoin after a signalling drop (default false: a test sees every drop). */
	reconnect?: boolean;
	audioPacketsPerSecond?: number;
	videoFramesPerSecond?: number;
	/** A VP8 keyframe at least this often (also one right after a PLI/FIR). */
	keyframeIntervalMs?: number;
}

export interface ReceivedStream {
	producerId: string;
	consumerId: string;
	kind: 'audio' | 'video';
	track: MediaStreamTrack;
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
	readonly client: SftClient;
	readonly call: Call;
	/** The SDK's connection, with every server event logged. */
	readonly signalling: SignallingClient;
	readonly conferenceId: string;
	/** What this client receives, by remote producer id (the latest consumer of each). */
	readonly streams = new Map<string, ReceivedStream>();
	/** Failures in background work (consume, RTP sending); tests assert this stays empty. */
	readonly errors: Error[] = [];
	/** Set when the call ends (the server ended the conference, or the connection dropped for good). */
	endedReason: string | undefined;
	readonly #options: Required<
		Pick<WeriftCallerOptions, 'audio' | 'video' | 'audioPacketsPerSecond' | 'videoFramesPerSecond' | 'keyframeIntervalMs'>
	>;
	readonly #timers: NodeJS.Timeout[] = [];
	#keyframeRequested = true;
	#closed = false;

	private constructor(client: SftClient, signalling: SignallingClient, call: Call, options: WeriftCallerOptions) {
		this.client = client;
		this.signalling = signalling;
		this.call = call;
		this.conferenceId = options.conferenceId;
		this.#options = {
			audio: options.audio ?? true,
			video: options.video ?? true,
			audioPacketsPerSecond: options.audioPacketsPerSecond ?? 50,
			videoFramesPerSecond: options.videoFramesPerSecond ?? 30,
			keyframeIntervalMs: options.keyframeIntervalMs ?? 1000,
		};
		for (const track of call.remoteTracks) this.#onTrack(track);
		call.on('trackAdded', (track) => this.#onTrack(track));
		call.on('trackRemoved', ({ producerId }) => this.#dropStream(producerId));
		call.on('error', (error) => {
			if (!this.#closed && this.errors.length < 10) this.errors.push(error);
		});
		call.on('ended', ({ reason }) => {
			this.endedReason = reason;
			this.#stopSending();
		});
	}

	/** Connects, joins, starts sending and (optionally) consuming. */
	static async join(options: WeriftCallerOptions): Promise<WeriftCaller> {
		const client = await SftClient.connect(options.url, options.token, {
			device: weriftDevice,
			reconnect: options.reconnect ?? false,
			requestTimeoutMs: 10_000,
			connectTimeoutMs: 5000,
			tls: options.ca ? { ca: options.ca } : { rejectUnauthorized: false },
		});
		const signalling = new SignallingClient(client.signalling);
		let caller: WeriftCaller | undefined;
		try {
			const call = await client.join(options.conferenceId, {
				displayName: options.displayName ?? 'werift caller',
				descriptor: options.descriptor,
				receive: options.consume ?? true,
			});
			caller = new WeriftCaller(client, signalling, call, options);
			await caller.#startSending();
		} catch (error) {
			await caller?.close();
			client.close();
			throw error;
		}
		return caller;
	}

	get participantId(): string {
		return this.call.participantId;
	}

	/** The latest join reply (with the descriptor to hand to callers of other domains). */
	get joinReply() {
		return this.call.joinReply;
	}

	get audioProducerId(): string | undefined {
		return this.call.producerId('mic');
	}

	get videoProducerId(): string | undefined {
		return this.call.producerId('camera');
	}

	/** Remote producers announced (at join or by producerAdded) and not closed. */
	get remoteProducers(): Map<string, ProducerInfo> {
		return new Map(this.call.snapshot.producers.map((p) => [p.producerId, p]));
	}

	async #startSending(): Promise<void> {
		const TrackClass = globalThis.MediaStreamTrack as unknown as new (props: { kind: 'audio' | 'video' }) => WeriftTrack;
		const audioTrack = this.#options.audio ? new TrackClass({ kind: 'audio' }) : undefined;
		const videoTrack = this.#options.video ? new TrackClass({ kind: 'video' }) : undefined;
		if (audioTrack) await this.call.publish('mic', audioTrack);
		if (videoTrack) {
			await this.call.publish('camera', videoTrack, { simulcast: false });
			this.#watchKeyframeRequests();
			// A rejoin makes a new sender; its key-frame requests count too.
			this.call.on('connection', (state) => state === 'connected' && this.#watchKeyframeRequests());
		}
		if (!audioTrack && !videoTrack) return;
		// werift drops RTP written before its DTLS transport is up.
		await waitUntil(() => this.call.transportStates.send === 'connected' || this.#closed, 'the send transport to connect', 15_000);
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
			this.#timers.push(
				setInterval(
					safe(() => audioTrack.writeRtp(audio.next(OPUS_SILENCE, true))),
					1000 / this.#options.audioPacketsPerSecond,
				),
			);
		}
		if (videoTrack) {
			const video = new RtpStream(96, Math.round(90_000 / this.#options.videoFramesPerSecond));
			let pictureId = Math.floor(Math.random() * 0x7fff);
			let lastKeyframe = 0;
			this.#timers.push(
				setInterval(
					safe(() => {
						const now = Date.now();
						const keyframe = this.#keyframeRequested || now - lastKeyframe >= this.#options.keyframeIntervalMs;
						if (keyframe) {
							this.#keyframeRequested = false;
							lastKeyframe = now;
						}
						pictureId = (pictureId + 1) & 0x7fff;
						videoTrack.writeRtp(video.next(vp8Payload(pictureId, keyframe), true));
					}),
					1000 / this.#options.videoFramesPerSecond,
				),
			);
		}
	}

	#watchKeyframeRequests(): void {
		(this.call.sender('camera') as WeriftSender | undefined)?.onPictureLossIndication?.subscribe(() => {
			this.#keyframeRequested = true;
		});
	}

	#onTrack(remote: RemoteTrack): void {
		this.#dropStream(remote.producerId);
		const stream: ReceivedStream = {
			producerId: remote.producerId,
			consumerId: remote.consumerId,
			kind: remote.kind,
			track: remote.track,
			sequenceNumbers: new Set(),
			closed: false,
		};
		this.streams.set(remote.producerId, stream);
		(remote.track as WeriftTrack).onReceiveRtp.subscribe((rtp) => {
			if (!stream.closed) stream.sequenceNumbers.add(rtp.header.sequenceNumber);
		});
	}

	#dropStream(producerId: string): void {
		const stream = this.streams.get(producerId);
		if (stream) stream.closed = true;
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
		await this.call.setView(producerIds);
	}

	#stopSending(): void {
		for (const timer of this.#timers.splice(0)) clearInterval(timer);
	}

	/** Stops media, leaves (if still possible) and closes the connection. Never throws. */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.#stopSending();
		await this.call.leave().catch(() => undefined);
		this.client.close();
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
