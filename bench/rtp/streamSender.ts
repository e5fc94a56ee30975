import { buildSenderReport } from './rtcpPackets.ts';
import { nowMs, type SendStamp, writeOpusPacket } from './rtpPackets.ts';

/** After an event-loop stall a stream sends at most this much of its backlog; the rest is skipped. */
export const MAX_CATCH_UP_MS = 200;

/**
 * One synthetic RTP stream (an SSRC) paced by the time since sending started.
 * Each packet carries a send stamp with the stream's own counter, so receivers
 * can count exactly which packets arrived even though mediasoup rewrites SSRC
 * and sequence numbers.
 */
export abstract class StreamSender {
	abstract readonly kind: 'audio' | 'video';
	readonly ssrc: number;
	readonly payloadType: number;
	/** Packets handed to the socket; also the next stamp sequence number. */
	sent = 0;
	/** RTP bytes put on the wire (what this stream publishes). */
	bytesSent = 0;
	/** Packets the schedule wanted but that were dropped after an event-loop stall. */
	skipped = 0;
	keyFrames = 0;
	protected rtpSeq = randomUint(0xffff);
	protected readonly timestampBase = randomUint(0xffffffff);
	readonly #clockRate: number;
	readonly #stamp: SendStamp = { streamId: 0, seq: 0, sentAtMs: 0 };

	constructor(ssrc: number, payloadType: number, clockRate: number) {
		this.ssrc = ssrc;
		this.payloadType = payloadType;
		this.#clockRate = clockRate;
	}

	/** Hands every packet due `elapsedMs` after sending started to `send`. */
	abstract drain(elapsedMs: number, send: (packet: Buffer) => void): void;

	/** A PLI/FIR for this SSRC arrived (video: the next frame is a key frame). */
	requestKeyFrame(): void {}

	/** An RTCP sender report tying this stream's RTP clock to the wall clock now. */
	senderReport(elapsedMs: number): Buffer {
		return buildSenderReport({
			ssrc: this.ssrc,
			wallClockMs: nowMs(),
			rtpTimestamp: this.rtpTimestamp(elapsedMs),
			packetCount: this.sent,
			octetCount: this.bytesSent,
		});
	}

	protected rtpTimestamp(elapsedMs: number): number {
		return (this.timestampBase + Math.round((elapsedMs * this.#clockRate) / 1000)) >>> 0;
	}

	/** The stamp of the next packet (one object, rewritten for every packet). */
	protected nextStamp(): SendStamp {
		this.#stamp.streamId = this.ssrc;
		this.#stamp.seq = this.sent;
		this.#stamp.sentAtMs = nowMs();
		return this.#stamp;
	}

	/** Counts a packet and hands it on. */
	protected emit(packet: Buffer, send: (packet: Buffer) => void): void {
		this.sent++;
		this.bytesSent += packet.length;
		this.rtpSeq = (this.rtpSeq + 1) & 0xffff;
		send(packet);
	}
}

export interface AudioSenderOptions {
	ssrc: number;
	payloadType: number;
	packetsPerSecond: number;
	payloadBytes: number;
	/** Id negotiated for ssrc-audio-level in the producer's rtpParameters. */
	audioLevelExtensionId: number;
	/** Constant level as -dBov (0 loudest, 127 silent); can be changed while running. */
	levelDbov: number;
}

/** Opus at a constant packet rate and size, with the ssrc-audio-level the SFT ranks speakers by. */
export class AudioSender extends StreamSender {
	readonly kind = 'audio';
	readonly #options: AudioSenderOptions;
	readonly #audioLevel: { extensionId: number; levelDbov: number };
	#scheduled = 0;

	constructor(options: AudioSenderOptions) {
		super(options.ssrc, options.payloadType, 48000);
		this.#options = { ...options };
		this.#audioLevel = { extensionId: options.audioLevelExtensionId, levelDbov: options.levelDbov };
	}

	setLevel(levelDbov: number): void {
		this.#audioLevel.levelDbov = levelDbov;
	}

	drain(elapsedMs: number, send: (packet: Buffer) => void): void {
		const o = this.#options;
		const target = Math.floor((elapsedMs * o.packetsPerSecond) / 1000) + 1;
		const backlog = target - this.#scheduled;
		if (backlog <= 0) return;
		this.#scheduled = target;
		const count = Math.min(backlog, Math.max(4, Math.ceil((o.packetsPerSecond * MAX_CATCH_UP_MS) / 1000)));
		this.skipped += backlog - count;
		const samplesPerPacket = Math.round(48000 / o.packetsPerSecond);
		for (let i = 0; i < count; i++) {
			const header = {
				payloadType: this.payloadType,
				sequenceNumber: this.rtpSeq,
				timestamp: this.timestampBase + this.sent * samplesPerPacket,
				ssrc: this.ssrc,
			};
			this.emit(writeOpusPacket(header, this.#audioLevel, o.payloadBytes, this.nextStamp()), send);
		}
	}
}

function randomUint(max: number): number {
	return Math.floor(Math.random() * max);
}
