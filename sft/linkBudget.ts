import { betterRank, type Demand } from './demand.ts';
import type { TileRank } from './simulcast.ts';

export interface BudgetInput {
	/** Video the far side needs (concrete layers). */
	demand: Demand;
	/** Current bitrate of one spatial layer of a producer, bit/s. */
	bitrate(producerId: string, layer: number): number;
	/** What is never shed (audio), bit/s. */
	fixedBitrate: number;
	/** The link's cap, bit/s. */
	maxBitrate: number;
}

export interface BudgetPlan {
	/** What may cross: `demand` with layers shed. */
	demand: Demand;
	/** Bitrate of what was shed (demanded but not relayed). */
	shedBitrate: number;
	/** One line per shedding decision, for logs. */
	shed: string[];
	/** Even after every step the plan stays above the cap (audio, screen shares and focus tiles are never dropped). */
	overCap: boolean;
}

/**
 * Fits what a federation link relays under its cap by shedding, in order:
 * 1. layers only thumbnails need, where the stream crosses at another layer
 *    anyway (those viewers then get that layer);
 * 2. large tiles' upper layers, down to the lowest layer;
 * 3. streams only thumbnails watch, entirely;
 * 4. the active speaker's and pinned tiles' upper layers, then screen
 *    shares', down to the lowest layer.
 * Audio is never shed; neither is the lowest layer of a focus tile or screen share.
 * Within a step the biggest saving goes first.
 */
export function planLinkBudget(input: BudgetInput): BudgetPlan {
	const demand: Demand = new Map([...input.demand].map(([id, layers]) => [id, new Map(layers)]));
	const bitrate = (producerId: string, layers: Iterable<number>) => {
		let sum = 0;
		for (const layer of layers) sum += input.bitrate(producerId, layer);
		return sum;
	};
	let total = input.fixedBitrate;
	for (const [producerId, layers] of demand) total += bitrate(producerId, layers.keys());
	const shed: string[] = [];
	let shedBitrate = 0;
	const over = () => total > input.maxBitrate;

	/** Runs one step: `candidates` are changes with their saving; apply biggest first while over the cap. */
	const step = (name: string, candidates: { producerId: string; saving: number; apply: () => void }[]) => {
		candidates.sort((a, b) => b.saving - a.saving);
		for (const candidate of candidates) {
			if (!over()) return;
			if (candidate.saving <= 0) continue;
			candidate.apply();
			total -= candidate.saving;
			shedBitrate += candidate.saving;
			shed.push(`${name} ${candidate.producerId} (-${Math.round(candidate.saving / 1000)} kbit/s)`);
		}
	};

	if (!over()) return { demand, shedBitrate: 0, shed, overCap: false };

	// 1. Thumbnail-only layers of streams that cross at another layer too.
	const thumbnailLayers = [...demand].flatMap(([producerId, layers]) => {
		if (layers.size < 2) return [];
		return [...layers]
			.filter(([, rank]) => rank === 'thumbnail')
			.map(([layer]) => ({
				producerId,
				saving: input.bitrate(producerId, layer),
				apply: () => {
					// Keep at least one layer of the stream.
					if (layers.size > 1) layers.delete(layer);
				},
			}));
	});
	step('thumbnail layer', thumbnailLayers);
	if (over()) step('large tile to low layer', downToLowest(demand, 'large', input.bitrate));
	if (over()) {
		const thumbnailOnly = [...demand]
			.filter(([, layers]) => [...layers.values()].every((rank) => rank === 'thumbnail'))
			.map(([producerId, layers]) => ({
				producerId,
				saving: bitrate(producerId, layers.keys()),
				apply: () => demand.delete(producerId),
			}));
		step('thumbnail stream', thumbnailOnly);
	}
	if (over()) step('focus tile to low layer', downToLowest(demand, 'focus', input.bitrate));
	if (over()) step('screen share to low layer', downToLowest(demand, 'screen', input.bitrate));
	return { demand, shedBitrate, shed, overCap: over() };
}

/** Candidates that replace every layer above 0 whose best rank is `rank` by layer 0 (at the same rank). */
function downToLowest(demand: Demand, rank: TileRank, bitrate: (producerId: string, layer: number) => number) {
	return [...demand].flatMap(([producerId, layers]) => {
		const upper = [...layers].filter(([layer, r]) => layer > 0 && r === rank).map(([layer]) => layer);
		if (upper.length === 0) return [];
		const saving = upper.reduce((sum, layer) => sum + bitrate(producerId, layer), 0) - (layers.has(0) ? 0 : bitrate(producerId, 0));
		return [
			{
				producerId,
				saving,
				apply: () => {
					for (const layer of upper) layers.delete(layer);
					layers.set(0, betterRank(layers.get(0), rank));
				},
			},
		];
	});
}
