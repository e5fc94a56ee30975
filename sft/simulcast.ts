/**
 * Simulcast and SVC layer rules, free of mediasoup objects so they can be
 * read and tested on their own: what layers a producer carries, which one a
 * tile of a given size needs, and how viewers' streams are ranked when their
 * downlink cannot carry everything.
 */

export type MediaSource = 'mic' | 'camera' | 'screen';

export interface Size {
	width: number;
	height: number;
}

/** One recommended encoding, in the shape of RTCRtpEncodingParameters. */
export interface RecommendedEncoding {
	scaleResolutionDownBy: number;
	maxBitrate: number;
	scalabilityMode: string;
	maxFramerate?: number;
}

export interface SimulcastProfile {
	/** Capture size the encodings are meant for (the top layer). */
	width: number;
	height: number;
	encodings: RecommendedEncoding[];
}

/**
 * What the SFT asks clients to send (given out by `getCapabilities`).
 * Camera: libwebrtc's own three layers for 720p (180p/360p/720p at about
 * 0.2/0.7/2.5 Mbit/s) with three temporal layers each. Screen share: one
 * full-resolution layer capped like Wire's (1.5 Mbit/s): text must stay
 * legible, so it is never sent scaled down.
 */
export const recommendedProfiles: { camera: SimulcastProfile; screen: SimulcastProfile } = {
	camera: {
		width: 1280,
		height: 720,
		encodings: [
			{ scaleResolutionDownBy: 4, maxBitrate: 200_000, scalabilityMode: 'L1T3' },
			{ scaleResolutionDownBy: 2, maxBitrate: 700_000, scalabilityMode: 'L1T3' },
			{ scaleResolutionDownBy: 1, maxBitrate: 2_500_000, scalabilityMode: 'L1T3' },
		],
	},
	screen: {
		width: 1920,
		height: 1080,
		encodings: [{ scaleResolutionDownBy: 1, maxBitrate: 1_500_000, scalabilityMode: 'L1T3', maxFramerate: 15 }],
	},
};

/** Top-layer size assumed when a client does not declare one. */
export const defaultTopSize: Record<MediaSource, Size> = {
	mic: { width: 0, height: 0 },
	camera: { width: recommendedProfiles.camera.width, height: recommendedProfiles.camera.height },
	screen: { width: recommendedProfiles.screen.width, height: recommendedProfiles.screen.height },
};

/** The layers of one video producer, lowest spatial layer first. */
export interface ProducerLayers {
	spatialLayers: number;
	temporalLayers: number;
	/** Frame size of each spatial layer. */
	sizes: Size[];
}

/** The parts of RTP encoding parameters the layer rules read. */
export interface EncodingShape {
	scalabilityMode?: string | undefined;
	scaleResolutionDownBy?: number | undefined;
}

/** Parses `L<s>T<t>` / `S<s>T<t>` (with optional suffixes such as `_KEY`). */
export function parseScalabilityMode(mode: string | undefined): { spatial: number; temporal: number } {
	const match = /^[LS]([1-9]\d?)T([1-9]\d?)/.exec(mode ?? '');
	return match ? { spatial: Number(match[1]), temporal: Number(match[2]) } : { spatial: 1, temporal: 1 };
}

/**
 * Layers of a producer from its encodings: several encodings are simulcast
 * (one spatial layer each), one encoding with `L3T3` is SVC. Sizes follow
 * each encoding's scaleResolutionDownBy from the top size; without it,
 * each layer is half the next one, as browsers do by default.
 */
export function describeLayers(encodings: readonly EncodingShape[], topSize: Size): ProducerLayers {
	const first = encodings[0];
	if (encodings.length <= 1) {
		const { spatial, temporal } = parseScalabilityMode(first?.scalabilityMode);
		const sizes = Array.from({ length: spatial }, (_, i) => scaled(topSize, 2 ** (spatial - 1 - i)));
		return { spatialLayers: spatial, temporalLayers: temporal, sizes };
	}
	const temporal = Math.max(...encodings.map((e) => parseScalabilityMode(e.scalabilityMode).temporal));
	const count = encodings.length;
	const scales = encodings.map((e, i) => e.scaleResolutionDownBy ?? 2 ** (count - 1 - i));
	// Divide by the smallest scale: the encoding with it carries topSize.
	const base = Math.min(...scales);
	return { spatialLayers: count, temporalLayers: temporal, sizes: scales.map((scale) => scaled(topSize, scale / base)) };
}

function scaled(size: Size, by: number): Size {
	return { width: Math.round(size.width / by), height: Math.round(size.height / by) };
}

/** A tile within 10 % of a layer's size is covered by it (a 330 px tile does not need 720p). */
const COVER_TOLERANCE = 0.9;

/**
 * The lowest spatial layer whose frames cover a tile of `tile` pixels, or
 * the top layer when none does or no size is given ("as large as you can").
 */
export function spatialLayerFor(layers: ProducerLayers, tile: Size | undefined): number {
	const top = layers.spatialLayers - 1;
	if (!tile) return top;
	for (let i = 0; i < top; i++) {
		const size = layers.sizes[i];
		if (size && size.width >= tile.width * COVER_TOLERANCE && size.height >= tile.height * COVER_TOLERANCE) return i;
	}
	return top;
}

/**
 * How a viewed stream ranks when the viewer's bandwidth estimate cannot carry
 * every preferred layer: screen share first, then the active speaker or a
 * pinned tile, then large tiles, then thumbnails.
 */
export type TileRank = 'screen' | 'focus' | 'large' | 'thumbnail';

/**
 * mediasoup consumer priorities for each rank. mediasoup first gives every
 * consumer its lowest layer in priority order, then lets each one climb
 * `priority` layers per round; the wide gaps make the order strict in practice.
 */
export const rankPriority: Record<TileRank, number> = { screen: 255, focus: 128, large: 32, thumbnail: 1 };

/** Tiles smaller than this (in device pixels) are thumbnails. */
export const THUMBNAIL_MAX: Size = { width: 480, height: 270 };

export function tileRank(source: MediaSource, tile: ViewTile | undefined, isSpeaker: boolean): TileRank {
	if (source === 'screen') return 'screen';
	if (tile?.pinned || isSpeaker) return 'focus';
	const size = tile?.size;
	if (size && size.width <= THUMBNAIL_MAX.width && size.height <= THUMBNAIL_MAX.height) return 'thumbnail';
	return 'large';
}

/** One entry of a client's view: a producer, the size it is drawn at (none: as large as possible), pinned or not. */
export interface ViewTile {
	producerId: string;
	size?: Size | undefined;
	pinned?: boolean | undefined;
}

/**
 * The encodings a sender should keep on: every spatial layer up to the
 * highest one any viewer needs (lower ones stay on so a viewer's bandwidth
 * estimate can step down to them), none when nobody needs any.
 * `needed` is the highest needed spatial layer, or -1 for none.
 */
export function activeEncodings(encodingCount: number, needed: number): boolean[] {
	return Array.from({ length: encodingCount }, (_, i) => i <= needed);
}
