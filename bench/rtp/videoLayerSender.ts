import { FrameModel, type PlannedFrame } from './frameModel.ts';
import { MAX_CATCH_UP_MS, StreamSender } from './streamSender.ts';
import type { VideoLayer, VideoProfile } from './videoProfiles.ts';
import { writeVp8Packet } from './vp8Packets.ts';

export interface VideoLayerSenderOptions {
	ssrc: number;
	payloadType: number;
	layer: VideoLayer;
	profile: VideoProfile;
}

/**
 * One simulcast layer (one SSRC) of synthetic VP8, frame by frame: a frame is
 * captured every 1/fps, split into packets of about equal size and paced out
 * at the profile's pacing rate, so a large key frame delays the frames behind
 * it as libwebrtc's pacer does. Key frames come first, on request (PLI/FIR for
 * this SSRC) and when the layer is switched back on.
 */
export class VideoLayerSender extends StreamSender {
	readonly kind = 'video';
	readonly layer: VideoLayer;
	readonly #profile: VideoProfile;
	readonly #frames: FrameModel;
	readonly #frameIntervalMs: number;
	/** ms of pacing per payload byte. */
	readonly #msPerByte: number;
	#nextFrame = 0;
	#frame: PlannedFrame | undefined;
	#timestamp = 0;
	#packetsLeft = 0;
	#bytesLeft = 0;
	#firstPacket = false;
	#nextDueMs = 0;
	#keyFrameWanted = true;
	#lastKeyFrameAt = Number.NEGATIVE_INFINITY;
	#active = true;

	constructor(options: VideoLayerSenderOptions) {
		super(options.ssrc, options.payloadType, 90000);
		this.layer = options.layer;
		this.#profile = options.profile;
		this.#frames = new FrameModel(options.layer, options.profile, options.ssrc);
		this.#frameIntervalMs = 1000 / options.layer.framesPerSecond;
		this.#msPerByte = (8 * 1000) / (options.profile.pacingFactor * options.layer.bitrate);
	}

	/** Whether the layer is encoded (a client stops encoding layers nobody needs). */
	get active(): boolean {
		return this.#active;
	}

	setActive(active: boolean): void {
		// An encoder that starts again starts with a key frame.
		if (active && !this.#active) this.#keyFrameWanted = true;
		this.#active = active;
	}

	override requestKeyFrame(): void {
		this.#keyFrameWanted = true;
	}

	drain(elapsedMs: number, send: (packet: Buffer) => void): void {
		for (;;) {
			if (this.#packetsLeft === 0) {
				const capturedAt = this.#nextFrame * this.#frameIntervalMs;
				if (capturedAt > elapsedMs) return;
				this.#nextFrame++;
				if (elapsedMs - capturedAt > MAX_CATCH_UP_MS) {
					// The event loop stalled: an encoder would have dropped this frame.
					this.skipped += Math.ceil(this.layer.bitrate / 8 / this.layer.framesPerSecond / this.#profile.maxPayloadBytes);
					continue;
				}
				if (!this.#active) continue;
				this.#startFrame(capturedAt);
			}
			if (this.#nextDueMs > elapsedMs) return;
			this.#sendPacket(send);
		}
	}

	#startFrame(capturedAt: number): void {
		const interval = this.#profile.keyFrameIntervalMs;
		const keyFrame = this.#keyFrameWanted || (interval > 0 && capturedAt - this.#lastKeyFrameAt >= interval);
		if (keyFrame) {
			this.#keyFrameWanted = false;
			this.#lastKeyFrameAt = capturedAt;
			this.keyFrames++;
		}
		const frame = this.#frames.next(keyFrame);
		this.#frame = frame;
		this.#timestamp = this.rtpTimestamp(capturedAt);
		this.#packetsLeft = Math.ceil(frame.bytes / this.#profile.maxPayloadBytes);
		this.#bytesLeft = frame.bytes;
		this.#firstPacket = true;
		this.#nextDueMs = Math.max(this.#nextDueMs, capturedAt);
	}

	#sendPacket(send: (packet: Buffer) => void): void {
		const frame = this.#frame;
		if (!frame) return;
		const size = Math.ceil(this.#bytesLeft / this.#packetsLeft);
		const header = {
			payloadType: this.payloadType,
			sequenceNumber: this.rtpSeq,
			timestamp: this.#timestamp,
			ssrc: this.ssrc,
			marker: this.#packetsLeft === 1,
		};
		this.emit(writeVp8Packet(header, frame, this.#firstPacket, size, this.nextStamp()), send);
		this.#firstPacket = false;
		this.#bytesLeft -= size;
		this.#packetsLeft--;
		this.#nextDueMs += size * this.#msPerByte;
	}
}
