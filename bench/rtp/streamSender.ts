import { audioLevelExtension, buildOpusPayload, buildRtpPacket, buildVp8Payload, nowMs } from './rtpPackets.ts';

export interface AudioStreamOptions {
	kind: 'audio';
	ssrc: number;
	payloadType: number;
	packetsPerSecond: number;
	payloadBytes: number;
	/** Id negotiated for ssrc-audio-level in the producer's rtpParameters. */
	audioLevelExtensionId: number;
	/** Constant level as -dBov (0 loudest, 127 silent); can be changed while running. */
	levelDbov: number;
}

export interface VideoStreamOptions {
	kind: 'video';
	ssrc: number;
	payloadType: number;
	packetsPerSecond: number;
	payloadBytes: number;
	framesPerSecond: number;
	/** Periodic key frames as a fallback to PLI/FIR; 0 = only on request (and the first frame). */
	keyFrameIntervalMs: number;
}

export type StreamOptions = AudioStreamOptions | VideoStreamOptions;

/**
 * Synthesises one RTP stream paced by wall-clock time. Each packet carries a
 * send stamp with the stream's own counter, so receivers can count exactly
 * which packets arrived even though mediasoup rewrites SSRC and sequence.
 */
export class StreamSender {
	readonly options: StreamOptions;
	/** Packets handed to the socket; also the next stamp sequence number. */
	sent = 0;
	/** RTP bytes put on the wire (what this stream publishes). */
	bytesSent = 0;
	/** Packets the schedule wanted but that were dropped after an event-loop stall. */
	skipped = 0;
	keyFrames = 0;
	#scheduled = 0;
	#rtpSeq = randomUint(0xffff);
	#rtpTimestampBase = randomUint(0xffffffff);
	#keyFrameWanted = true;
	#lastKeyFrameAt = 0;
	#frame = -1;
	#frameIsKey = false;

	constructor(options: StreamOptions) {
		this.options = { ...options };
	}

	get ssrc(): number {
		return this.options.ssrc;
	}

	setLevel(levelDbov: number): void {
		if (this.options.kind === 'audio') this.options.levelDbov = levelDbov;
	}

	/** A PLI/FIR arrived: the next frame starts with a key frame. */
	requestKeyFrame(): void {
		this.#keyFrameWanted = true;
	}

	/** The packets due `elapsedMs` after start. After a long stall at most `maxBurst` go out; the rest are skipped. */
	due(elapsedMs: number, maxBurst: number): Buffer[] {
		const target = Math.floor((elapsedMs * this.options.packetsPerSecond) / 1000) + 1;
		const backlog = target - this.#scheduled;
		if (backlog <= 0) return [];
		this.#scheduled = target;
		const count = Math.min(backlog, maxBurst);
		this.skipped += backlog - count;
		const packets: Buffer[] = [];
		for (let i = 0; i < count; i++) packets.push(this.#next());
		return packets;
	}

	#next(): Buffer {
		const stamp = { streamId: this.options.ssrc, seq: this.sent, sentAtMs: nowMs() };
		const packet = this.options.kind === 'audio' ? this.#audioPacket(this.options, stamp) : this.#videoPacket(this.options, stamp);
		this.sent++;
		this.bytesSent += packet.length;
		this.#rtpSeq = (this.#rtpSeq + 1) & 0xffff;
		return packet;
	}

	#audioPacket(o: AudioStreamOptions, stamp: { streamId: number; seq: number; sentAtMs: number }): Buffer {
		const samplesPerPacket = Math.round(48000 / o.packetsPerSecond);
		return buildRtpPacket(
			{
				payloadType: o.payloadType,
				sequenceNumber: this.#rtpSeq,
				timestamp: this.#rtpTimestampBase + this.sent * samplesPerPacket,
				ssrc: o.ssrc,
				extensions: [audioLevelExtension(o.audioLevelExtensionId, o.levelDbov)],
			},
			buildOpusPayload(o.payloadBytes, stamp),
		);
	}

	#videoPacket(o: VideoStreamOptions, stamp: { streamId: number; seq: number; sentAtMs: number }): Buffer {
		// Frames of equal size: packetsPerSecond / framesPerSecond packets each.
		const perFrame = Math.max(1, Math.round(o.packetsPerSecond / o.framesPerSecond));
		const frame = Math.floor(this.sent / perFrame);
		const start = this.sent % perFrame === 0;
		if (frame !== this.#frame) {
			this.#frame = frame;
			const periodic = o.keyFrameIntervalMs > 0 && stamp.sentAtMs - this.#lastKeyFrameAt >= o.keyFrameIntervalMs;
			this.#frameIsKey = this.#keyFrameWanted || periodic;
			if (this.#frameIsKey) {
				this.#keyFrameWanted = false;
				this.#lastKeyFrameAt = stamp.sentAtMs;
				this.keyFrames++;
			}
		}
		const ticksPerFrame = Math.round((90000 * perFrame) / o.packetsPerSecond);
		return buildRtpPacket(
			{
				payloadType: o.payloadType,
				sequenceNumber: this.#rtpSeq,
				timestamp: this.#rtpTimestampBase + frame * ticksPerFrame,
				ssrc: o.ssrc,
				marker: this.sent % perFrame === perFrame - 1,
			},
			buildVp8Payload({ pictureId: frame & 0x7fff, start, keyFrame: start && this.#frameIsKey, size: o.payloadBytes, stamp }),
		);
	}
}

function randomUint(max: number): number {
	return Math.floor(Math.random() * max);
}
