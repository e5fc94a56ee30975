/**
 * What the synthetic load clients publish as video: named simulcast profiles
 * after real clients, each a list of layers (lowest first) that become one
 * encoding (SSRC) each.
 */

export interface VideoLayer {
	width: number;
	height: number;
	/** Average bits/s of the layer's frames (RTP payload). */
	bitrate: number;
	framesPerSecond: number;
	/** 1 (L1T1) or 3 (L1T3, libwebrtc's TL0/TL2/TL1/TL2 pattern). */
	temporalLayers: 1 | 3;
}

export interface VideoProfile {
	name: string;
	layers: VideoLayer[];
	/** Key frame size / average frame size of a layer. */
	keyFrameFactor: number;
	/** Frame sizes vary uniformly by ± this share around their mean. */
	frameSizeJitter: number;
	/**
	 * A frame's packets leave at pacingFactor × the layer's bitrate (libwebrtc's
	 * pacer: 2.5); 1 spreads them over the whole frame interval.
	 */
	pacingFactor: number;
	/** Periodic key frames besides the first and the requested ones (0: none, as libwebrtc). */
	keyFrameIntervalMs: number;
	/** Frames are split into packets of about equal size, each at most this many payload bytes. */
	maxPayloadBytes: number;
}

/**
 * How a libwebrtc VP8 encoder and pacer behave, whatever the layers: key
 * frames at about 6 average frames (libwebrtc caps them at 9 with
 * rc_max_intra_bitrate_pct 900 % at 30 fps), frame sizes varying ±15 %,
 * packets paced at 2.5 × the bitrate, no periodic key frames, packets within
 * the 1200-byte RTP budget.
 */
const libwebrtcEncoder = {
	keyFrameFactor: 6,
	frameSizeJitter: 0.15,
	pacingFactor: 2.5,
	keyFrameIntervalMs: 0,
	maxPayloadBytes: 1200 - 12,
} satisfies Omit<VideoProfile, 'name' | 'layers'>;

export const simulcastProfiles = {
	/** Wire's clients (AVS ≥ 9.10): `l` half resolution and `h` full, both L1T1; sample rates 0.41 / 1.06 Mbit/s. */
	wire: {
		name: 'wire',
		layers: [
			{ width: 640, height: 360, bitrate: 400_000, framesPerSecond: 30, temporalLayers: 1 },
			{ width: 1280, height: 720, bitrate: 1_100_000, framesPerSecond: 30, temporalLayers: 1 },
		],
		...libwebrtcEncoder,
	},
	/** libwebrtc's default simulcast for a 720p camera: three layers, three temporal layers each. */
	chrome: {
		name: 'chrome',
		layers: [
			{ width: 320, height: 180, bitrate: 200_000, framesPerSecond: 30, temporalLayers: 3 },
			{ width: 640, height: 360, bitrate: 700_000, framesPerSecond: 30, temporalLayers: 3 },
			{ width: 1280, height: 720, bitrate: 2_500_000, framesPerSecond: 30, temporalLayers: 3 },
		],
		...libwebrtcEncoder,
	},
} satisfies Record<string, VideoProfile>;

export type ProfileName = keyof typeof simulcastProfiles | 'single';
export const profileNames: readonly ProfileName[] = ['single', 'wire', 'chrome'];

/** The pre-simulcast load stream, described by packet rate and size. */
export interface SingleLayerOptions {
	packetsPerSecond: number;
	/** RTP payload bytes of every packet. */
	payloadBytes: number;
	framesPerSecond: number;
	keyFrameIntervalMs: number;
}

/**
 * `single`: one layer of equal frames of `packetsPerSecond / framesPerSecond`
 * packets of `payloadBytes`, paced evenly, with key frames as large as delta
 * frames: exactly the stream the single-layer figures were measured with.
 */
export function singleLayerProfile(o: SingleLayerOptions): VideoProfile {
	const packetsPerFrame = Math.max(1, Math.round(o.packetsPerSecond / o.framesPerSecond));
	return {
		name: 'single',
		layers: [
			{
				width: 1280,
				height: 720,
				bitrate: packetsPerFrame * o.payloadBytes * 8 * o.framesPerSecond,
				framesPerSecond: o.framesPerSecond,
				temporalLayers: 1,
			},
		],
		keyFrameFactor: 1,
		frameSizeJitter: 0,
		pacingFactor: 1,
		keyFrameIntervalMs: o.keyFrameIntervalMs,
		maxPayloadBytes: o.payloadBytes,
	};
}

export function videoProfile(name: ProfileName, single: SingleLayerOptions): VideoProfile {
	return name === 'single' ? singleLayerProfile(single) : simulcastProfiles[name];
}

export function isProfileName(name: string): name is ProfileName {
	return (profileNames as readonly string[]).includes(name);
}
