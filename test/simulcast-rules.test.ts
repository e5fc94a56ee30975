// The pure layer rules (sft/simulcast.ts) and the sender-hint hold-down (sft/SenderHints.ts).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SenderHints } from '../sft/SenderHints.ts';
import { describeLayers, parseScalabilityMode, rankPriority, recommendedProfiles, spatialLayerFor, tileRank } from '../sft/simulcast.ts';

const HD = { width: 1280, height: 720 };

test('scalability modes', () => {
	assert.equal(parseScalabilityMode('L3T3_KEY'), { spatial: 3, temporal: 3 });
	assert.equal(parseScalabilityMode('L1T2'), { spatial: 1, temporal: 2 });
	assert.equal(parseScalabilityMode('S2T1'), { spatial: 2, temporal: 1 });
	assert.equal(parseScalabilityMode(undefined), { spatial: 1, temporal: 1 });
	assert.equal(parseScalabilityMode('bogus'), { spatial: 1, temporal: 1 });
});

test('layers of 3-encoding simulcast, 2-encoding (Wire) simulcast, SVC and a single layer', () => {
	const chrome = describeLayers(recommendedProfiles.camera.encodings, HD);
	assert.equal(chrome.sizes, [{ width: 320, height: 180 }, { width: 640, height: 360 }, HD]);
	assert.is(chrome.temporalLayers, 3);
	const wire = describeLayers([{ scaleResolutionDownBy: 2 }, { scaleResolutionDownBy: 1 }], HD);
	assert.equal(wire.sizes, [{ width: 640, height: 360 }, HD]);
	// Without scaleResolutionDownBy, each layer is half the next, as browsers do by default.
	assert.equal(describeLayers([{}, {}, {}], HD).sizes[0], { width: 320, height: 180 });
	const svc = describeLayers([{ scalabilityMode: 'L3T3_KEY' }], HD);
	assert.equal({ spatial: svc.spatialLayers, temporal: svc.temporalLayers }, { spatial: 3, temporal: 3 });
	assert.equal(svc.sizes[0], { width: 320, height: 180 });
	assert.is(describeLayers([{}], HD).spatialLayers, 1);
});

test('a tile gets the lowest layer that covers it; no size means the top layer', () => {
	const layers = describeLayers(recommendedProfiles.camera.encodings, HD);
	assert.is(spatialLayerFor(layers, { width: 320, height: 180 }), 0);
	assert.is(spatialLayerFor(layers, { width: 200, height: 120 }), 0);
	// Within 10 %: a 340 px tile does not need 360p.
	assert.is(spatialLayerFor(layers, { width: 340, height: 190 }), 0);
	assert.is(spatialLayerFor(layers, { width: 400, height: 225 }), 1);
	assert.is(spatialLayerFor(layers, { width: 640, height: 360 }), 1);
	assert.is(spatialLayerFor(layers, { width: 960, height: 540 }), 2);
	assert.is(spatialLayerFor(layers, { width: 3840, height: 2160 }), 2);
	assert.is(spatialLayerFor(layers, undefined), 2);
	// A tall narrow tile must be covered in height too.
	assert.is(spatialLayerFor(layers, { width: 200, height: 500 }), 2);
});

test('ranking under a bandwidth cap: screen > speaker or pinned > large > thumbnail', () => {
	const thumb = { producerId: 'p', size: { width: 320, height: 180 } };
	const large = { producerId: 'p', size: { width: 1280, height: 720 } };
	assert.is(tileRank('screen', thumb, false), 'screen');
	assert.is(tileRank('camera', { ...thumb, pinned: true }, false), 'focus');
	assert.is(tileRank('camera', thumb, true), 'focus');
	assert.is(tileRank('camera', large, false), 'large');
	assert.is(tileRank('camera', undefined, false), 'large');
	assert.is(tileRank('camera', thumb, false), 'thumbnail');
	const order = (['screen', 'focus', 'large', 'thumbnail'] as const).map((rank) => rankPriority[rank]);
	assert.equal(
		order,
		[...order].sort((a, b) => b - a),
		'priorities strictly decrease',
	);
});

test('sender hints: off only after the hold-down, on at once, nothing repeated', async () => {
	const sent: [string, boolean[]][] = [];
	const hints = new SenderHints((producerId, active) => sent.push([producerId, active]), 100);
	hints.update([{ producerId: 'v', encodingCount: 3, needed: 2 }]);
	assert.equal(sent, [], 'all on is what senders start with: nothing to say');
	hints.update([{ producerId: 'v', encodingCount: 3, needed: 0 }]);
	assert.equal(sent, [], 'switching off waits for the hold-down');
	await new Promise((resolve) => setTimeout(resolve, 150));
	assert.equal(sent, [['v', [true, false, false]]]);
	hints.update([{ producerId: 'v', encodingCount: 3, needed: -1 }]);
	// Needed again before the hold-down ends: the pending "all off" is dropped.
	hints.update([{ producerId: 'v', encodingCount: 3, needed: 0 }]);
	await new Promise((resolve) => setTimeout(resolve, 150));
	assert.is(sent.length, 1, 'a layer needed again within the hold-down is never switched off');
	hints.update([{ producerId: 'v', encodingCount: 3, needed: 2 }]);
	assert.equal(sent.at(-1), ['v', [true, true, true]], 'on at once');
	hints.update([{ producerId: 'v', encodingCount: 3, needed: 2 }]);
	assert.is(sent.length, 2, 'no repeat');
	hints.update([{ producerId: 'v', encodingCount: 3, needed: -1 }]);
	hints.forget('v');
	await new Promise((resolve) => setTimeout(resolve, 150));
	assert.is(sent.length, 2, 'a forgotten producer gets no late hint');
	hints.close();
});

test.run();
