/**
 * The frames a libwebrtc VP8 encoder produces for one simulcast layer: their
 * temporal layer ids, sync and reference flags, and their sizes.
 */

import type { VideoLayer, VideoProfile } from './videoProfiles.ts';
import type { Vp8FrameInfo } from './vp8Packets.ts';

/** libwebrtc's three-layer cycle (DefaultTemporalLayers): TL0, TL2, TL1, TL2. */
const T3_CYCLE = [0, 2, 1, 2] as const;
/**
 * Size of each frame of the cycle relative to the layer's average frame:
 * libwebrtc gives TL0 40 %, TL1 20 % and TL2 40 % of the bitrate, and TL2 has
 * two frames per cycle, so TL0 frames are twice as large as the others.
 */
const T3_SIZE = [1.6, 0.8, 0.8, 0.8] as const;
/** The first TL2 and the TL1 of a cycle reference only TL0: a viewer may switch up there. */
const T3_SYNC = [false, true, true, false] as const;

export interface PlannedFrame extends Vp8FrameInfo {
	/** Bytes of VP8 payload (descriptor included) the frame takes. */
	bytes: number;
}

/** Frame after frame of one layer; `next(key)` plans the following one. */
export class FrameModel {
	readonly #layer: VideoLayer;
	readonly #profile: VideoProfile;
	readonly #averageBytes: number;
	readonly #frame: PlannedFrame;
	#cycle = 0;
	#random: number;

	constructor(layer: VideoLayer, profile: VideoProfile, seed: number) {
		this.#layer = layer;
		this.#profile = profile;
		this.#averageBytes = layer.bitrate / 8 / layer.framesPerSecond;
		this.#random = seed >>> 0 || 1;
		this.#frame = {
			pictureId: seed & 0x7fff,
			keyFrame: false,
			temporalId: undefined,
			layerSync: false,
			tl0PicIdx: (seed >>> 15) & 0xff,
			nonReference: false,
			width: layer.width,
			height: layer.height,
			bytes: 0,
		};
	}

	/** Plans the next frame; the returned object is reused by the following call. */
	next(keyFrame: boolean): PlannedFrame {
		const f = this.#frame;
		f.pictureId = (f.pictureId + 1) & 0x7fff;
		f.keyFrame = keyFrame;
		// A key frame restarts the temporal pattern.
		if (keyFrame) this.#cycle = 0;
		const position = this.#cycle;
		this.#cycle = (this.#cycle + 1) % T3_CYCLE.length;
		let share = 1;
		if (this.#layer.temporalLayers === 3) {
			const tid = T3_CYCLE[position] ?? 0;
			f.temporalId = tid;
			f.layerSync = !keyFrame && (T3_SYNC[position] ?? false);
			f.nonReference = tid === 2;
			if (tid === 0) f.tl0PicIdx = (f.tl0PicIdx + 1) & 0xff;
			share = T3_SIZE[position] ?? 1;
		}
		const mean = keyFrame ? this.#averageBytes * this.#profile.keyFrameFactor : this.#averageBytes * share;
		f.bytes = Math.max(1, Math.round(mean * (1 + this.#profile.frameSizeJitter * (2 * this.#uniform() - 1))));
		return f;
	}

	/** xorshift32: cheap, seeded, good enough for frame size jitter. */
	#uniform(): number {
		let x = this.#random;
		x ^= x << 13;
		x ^= x >>> 17;
		x ^= x << 5;
		this.#random = x >>> 0;
		return this.#random / 0x100000000;
	}
}
