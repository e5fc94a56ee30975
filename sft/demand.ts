import type { TileRank } from './simulcast.ts';

/**
 * What viewers need of a set of video producers: per producer, the spatial
 * layers someone needs and, per layer, the highest rank (screen > focus >
 * large > thumbnail) among the viewers needing it. Pure data, shared by the
 * conference (sender hints), federation links (demand relay) and the link
 * budget planner.
 */
export type LayerDemand = Map<number, TileRank>;
export type Demand = Map<string, LayerDemand>;

/** A layer key meaning "every layer the producer has" (a full-mode pipe relays everything). */
export const ALL_LAYERS = Number.POSITIVE_INFINITY;

/** Ranks from most to least important. */
export const RANK_ORDER: readonly TileRank[] = ['screen', 'focus', 'large', 'thumbnail'];

export function betterRank(a: TileRank | undefined, b: TileRank): TileRank {
	return a === undefined || RANK_ORDER.indexOf(b) < RANK_ORDER.indexOf(a) ? b : a;
}

/** Adds `layer` needed at `rank` to `demand`, keeping the better rank when it is already there. */
export function addDemand(demand: Demand, producerId: string, layer: number, rank: TileRank): void {
	let layers = demand.get(producerId);
	if (!layers) {
		layers = new Map();
		demand.set(producerId, layers);
	}
	layers.set(layer, betterRank(layers.get(layer), rank));
}

export function mergeDemand(into: Demand, from: ReadonlyMap<string, ReadonlyMap<number, TileRank>>): void {
	for (const [producerId, layers] of from) for (const [layer, rank] of layers) addDemand(into, producerId, layer, rank);
}

/** The highest needed layer of a producer with `layerCount` spatial layers, or -1. */
export function highestLayer(layers: ReadonlyMap<number, TileRank> | undefined, layerCount: number): number {
	if (!layers || layers.size === 0) return -1;
	return Math.min(layerCount - 1, Math.max(...layers.keys()));
}

/** Replaces ALL_LAYERS by the producer's actual layers. */
export function concreteLayers(layers: ReadonlyMap<number, TileRank>, layerCount: number): LayerDemand {
	const out: LayerDemand = new Map();
	for (const [layer, rank] of layers) {
		if (layer === ALL_LAYERS) for (let i = 0; i < layerCount; i++) out.set(i, betterRank(out.get(i), rank));
		else if (layer < layerCount) out.set(layer, betterRank(out.get(layer), rank));
	}
	return out;
}

export function sameLayers(a: ReadonlyMap<number, TileRank>, b: ReadonlyMap<number, TileRank> | undefined): boolean {
	if (!b || a.size !== b.size) return false;
	for (const [layer, rank] of a) if (b.get(layer) !== rank) return false;
	return true;
}

export function sameDemand(
	a: ReadonlyMap<string, ReadonlyMap<number, TileRank>>,
	b: ReadonlyMap<string, ReadonlyMap<number, TileRank>>,
): boolean {
	if (a.size !== b.size) return false;
	for (const [producerId, layers] of a) if (!sameLayers(layers, b.get(producerId))) return false;
	return true;
}

/** Wire form: `[producerId, [[layer, rankIndex], …]][]` (compact JSON for the partner). */
export type DemandWire = [string, [number, number][]][];

export function demandToWire(demand: ReadonlyMap<string, ReadonlyMap<number, TileRank>>): DemandWire {
	return [...demand].map(([producerId, layers]) => [producerId, [...layers].map(([layer, rank]) => [layer, RANK_ORDER.indexOf(rank)])]);
}

export function demandFromWire(wire: DemandWire): Demand {
	const demand: Demand = new Map();
	for (const [producerId, layers] of wire) {
		for (const [layer, rankIndex] of layers) addDemand(demand, producerId, layer, RANK_ORDER[rankIndex] ?? 'thumbnail');
	}
	return demand;
}
