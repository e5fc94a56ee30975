/** How to lay `count` tiles of one aspect ratio into a box: the column count and tile size that show them largest. */
export interface GridFit {
	columns: number;
	tileWidth: number;
	tileHeight: number;
}

/**
 * The column count that makes the tiles largest while all fit in
 * `width`×`height` (gaps included). When even one row per tile would make
 * them narrower than `minTileWidth`, the grid scrolls instead: as many
 * columns of at least that width as fit.
 */
export function fitGrid(count: number, width: number, height: number, gap: number, aspect = 16 / 9, minTileWidth = 160): GridFit {
	const n = Math.max(1, count);
	let best: GridFit = { columns: 1, tileWidth: 0, tileHeight: 0 };
	for (let columns = 1; columns <= n; columns++) {
		const rows = Math.ceil(n / columns);
		const cellWidth = (width - gap * (columns - 1)) / columns;
		const cellHeight = (height - gap * (rows - 1)) / rows;
		const tileWidth = Math.max(0, Math.min(cellWidth, cellHeight * aspect));
		if (tileWidth > best.tileWidth) best = { columns, tileWidth, tileHeight: tileWidth / aspect };
	}
	if (best.tileWidth >= minTileWidth) return round(best);
	const columns = Math.max(1, Math.min(n, Math.floor((width + gap) / (minTileWidth + gap))));
	const tileWidth = Math.max(0, (width - gap * (columns - 1)) / columns);
	return round({ columns, tileWidth, tileHeight: tileWidth / aspect });
}

function round(fit: GridFit): GridFit {
	return { columns: fit.columns, tileWidth: Math.floor(fit.tileWidth), tileHeight: Math.floor(fit.tileHeight) };
}
