// The link cap's shedding order (sft/linkBudget.ts) and the demand wire form (sft/demand.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ALL_LAYERS, concreteLayers, type Demand, demandFromWire, demandToWire, highestLayer, mergeDemand } from '../sft/demand.ts';
import { planLinkBudget } from '../sft/linkBudget.ts';
import type { TileRank } from '../sft/simulcast.ts';

/** Three-layer cameras at 0.2 / 0.7 / 2.5 Mbit/s. */
const LAYER_BPS = [200_000, 700_000, 2_500_000];
const bitrate = (_producerId: string, layer: number) => LAYER_BPS[layer] ?? 0;

function demand(entries: Record<string, [number, TileRank][]>): Demand {
	return new Map(Object.entries(entries).map(([id, layers]) => [id, new Map(layers)]));
}

function layersOf(plan: Demand): Record<string, number[]> {
	return Object.fromEntries([...plan].map(([id, layers]) => [id, [...layers.keys()].sort()]));
}

const wanted = demand({
	screen: [[2, 'screen']],
	speaker: [
		[2, 'focus'],
		[0, 'thumbnail'],
	],
	large: [[2, 'large']],
	thumbA: [[0, 'thumbnail']],
	thumbB: [[0, 'thumbnail']],
});
// 2.5 + (2.5 + 0.2) + 2.5 + 0.2 + 0.2 = 8.1 Mbit/s, plus 0.1 audio.
const AUDIO = 100_000;

test('under the cap nothing is shed', () => {
	const plan = planLinkBudget({ demand: wanted, bitrate, fixedBitrate: AUDIO, maxBitrate: 9_000_000 });
	assert.is(plan.shedBitrate, 0);
	assert.equal(layersOf(plan.demand), layersOf(wanted));
});

test('first the layers only thumbnails need, where the stream crosses at another layer anyway', () => {
	const plan = planLinkBudget({ demand: wanted, bitrate, fixedBitrate: AUDIO, maxBitrate: 8_000_000 });
	assert.equal(layersOf(plan.demand).speaker, [2], "the speaker's thumbnail layer goes; its viewers get layer 2");
	assert.equal(layersOf(plan.demand).large, [2]);
	assert.equal(layersOf(plan.demand).thumbA, [0], 'thumbnail-only streams stay');
	assert.is(plan.shedBitrate, 200_000);
});

test('then large tiles down to their low layer', () => {
	const plan = planLinkBudget({ demand: wanted, bitrate, fixedBitrate: AUDIO, maxBitrate: 6_000_000 });
	assert.equal(layersOf(plan.demand).large, [0]);
	assert.equal(layersOf(plan.demand).speaker, [2], 'the speaker keeps its layer');
	assert.equal(layersOf(plan.demand).screen, [2], 'the screen share keeps its layer');
	assert.equal(layersOf(plan.demand).thumbA, [0]);
});

test('then thumbnail-only streams entirely, then focus tiles and last screen shares to their low layer; audio never', () => {
	const step3 = planLinkBudget({ demand: wanted, bitrate, fixedBitrate: AUDIO, maxBitrate: 5_400_000 });
	assert.equal(Object.keys(layersOf(step3.demand)).sort(), ['large', 'screen', 'speaker'], 'thumbnail-only streams dropped');
	assert.equal(layersOf(step3.demand).speaker, [2]);
	const step4 = planLinkBudget({ demand: wanted, bitrate, fixedBitrate: AUDIO, maxBitrate: 3_200_000 });
	assert.equal(layersOf(step4.demand).speaker, [0], 'the speaker drops to its low layer before the screen share');
	assert.equal(layersOf(step4.demand).screen, [2]);
	const step5 = planLinkBudget({ demand: wanted, bitrate, fixedBitrate: AUDIO, maxBitrate: 700_000 });
	assert.equal(layersOf(step5.demand), { screen: [0], speaker: [0], large: [0] });
	assert.not.ok(step5.overCap, '0.6 Mbit/s of video plus audio fits 0.7');
	const impossible = planLinkBudget({ demand: wanted, bitrate, fixedBitrate: AUDIO, maxBitrate: 200_000 });
	assert.ok(impossible.overCap, 'low layers of focus and screen plus audio cannot fit 0.2 Mbit/s: reported, not dropped');
	assert.ok(impossible.shed.length > 0, 'every shedding decision is listed for the log');
});

test('demand helpers: merging keeps the best rank, ALL_LAYERS expands, wire form round-trips', () => {
	const merged: Demand = demand({ p: [[0, 'thumbnail']] });
	mergeDemand(merged, demand({ p: [[0, 'focus']], q: [[ALL_LAYERS, 'large']] }));
	assert.is(merged.get('p')?.get(0), 'focus');
	assert.equal([...concreteLayers(merged.get('q') ?? new Map(), 3).keys()], [0, 1, 2]);
	assert.is(highestLayer(merged.get('q'), 2), 1);
	assert.is(highestLayer(undefined, 3), -1);
	// Reports on the wire are concrete (ALL_LAYERS never leaves the SFT).
	const concrete = demand({
		p: [[0, 'focus']],
		q: [
			[0, 'thumbnail'],
			[2, 'screen'],
		],
	});
	assert.equal(demandFromWire(JSON.parse(JSON.stringify(demandToWire(concrete)))), concrete);
});

test.run();
