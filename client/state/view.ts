import type { ViewTile } from '../protocol.ts';
import type { Tile } from './CallState.ts';

/** The size in device pixels a tile is rendered at. */
export interface TileSize {
	width: number;
	height: number;
}

/**
 * Which remote videos to ask the SFT for and at what size: the tiles on
 * screen that show a video, at most `maxVideos`, the pinned one first, then
 * the active speakers, then the rest in tile order.
 */
export function viewFor(
	tiles: readonly Tile[],
	sizes: ReadonlyMap<string, TileSize>,
	speakers: readonly string[],
	maxVideos: number,
): ViewTile[] {
	const rank = (tile: Tile) => {
		if (tile.pinned) return -1;
		const speaker = speakers.indexOf(tile.participantId);
		return speaker >= 0 ? speaker : speakers.length;
	};
	return tiles
		.map((tile, order) => ({ tile, order, size: sizes.get(tile.key) }))
		.filter(({ tile, size }) => !tile.local && tile.videoProducerId !== undefined && size && size.width > 0 && size.height > 0)
		.sort((a, b) => rank(a.tile) - rank(b.tile) || a.order - b.order)
		.slice(0, maxVideos)
		.map(({ tile, size }) => ({
			producerId: tile.videoProducerId as string,
			width: Math.round(size?.width ?? 0),
			height: Math.round(size?.height ?? 0),
			...(tile.pinned ? { pinned: true } : {}),
		}));
}

/** A stable key for a view, to send it only when it changes. */
export function viewKey(view: readonly ViewTile[]): string {
	return JSON.stringify(view.map((t) => [t.producerId, t.width, t.height, t.pinned === true]));
}
