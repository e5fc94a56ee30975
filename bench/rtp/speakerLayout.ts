import type { Size, ViewTile } from '../../sft/simulcast.ts';

/** A receiver's screen: one large tile and a row of thumbnails. */
export interface Layout {
	large: Size;
	thumbnail: Size;
	thumbnails: number;
}

/** The layout the load receivers use unless told otherwise: a 720p stage and 8 thumbnails of 320×180. */
export const speakerView: Layout = { large: { width: 1280, height: 720 }, thumbnail: { width: 320, height: 180 }, thumbnails: 8 };

export interface RemoteVideo {
	producerId: string;
	ownerId: string;
	screen: boolean;
}

/**
 * The tiles of a speaker view. The stage (large, pinned) shows a screen share
 * if there is one, else the loudest remote speaker's camera; thumbnails show
 * the next ones: screens, then cameras of the next loudest speakers, then the
 * rest in arrival order. `speakers` are participant ids, loudest first;
 * `videos` are the remote videos in arrival order.
 */
export function speakerTiles(videos: readonly RemoteVideo[], speakers: readonly string[], layout: Layout): ViewTile[] {
	const rank = new Map(speakers.map((id, i) => [id, i]));
	const key = (v: RemoteVideo, arrival: number) => [v.screen ? 0 : 1, rank.get(v.ownerId) ?? speakers.length, arrival] as const;
	const ordered = videos
		.map((video, arrival) => ({ video, key: key(video, arrival) }))
		.sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.key[2] - b.key[2])
		.map((e) => e.video);
	return ordered.slice(0, 1 + layout.thumbnails).map((video, i) => ({
		producerId: video.producerId,
		size: i === 0 ? layout.large : layout.thumbnail,
		pinned: i === 0,
	}));
}
