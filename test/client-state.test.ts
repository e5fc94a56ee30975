// The SDK's pure state: the picture of a conference built from a join reply
// and server events, whatever order they come in; the view it asks for; the
// encodings it switches for the SFT.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { applyEncodingsNeeded, EncodingSwitch } from '../client/encodings.ts';
import type { JoinReply, SftEventName, SftEvents } from '../client/protocol.ts';
import { CallState, type Tile } from '../client/state/CallState.ts';
import { viewFor } from '../client/state/view.ts';
import { producerInfo } from './support/fakeSft.ts';

type Event = { [E in SftEventName]: [E, SftEvents[E]] }[SftEventName];

const descriptor = { conferenceId: 'standup', anchorDomain: 'a.test', createdAt: '2026-01-01T00:00:00.000Z' };

function reply(overrides: Partial<JoinReply> = {}): JoinReply {
	return {
		participantId: 'me',
		conferenceId: 'standup',
		domain: 'b.test',
		descriptor,
		rtpCapabilities: {},
		participants: [],
		producers: [],
		...overrides,
	};
}

const alice = { participantId: 'alice-1', userId: 'alice', displayName: 'Alice', domain: 'a.test' };
const carol = { participantId: 'carol-1', userId: 'carol', displayName: 'Carol', domain: 'b.test' };
const events: Event[] = [
	['participantJoined', alice],
	['producerAdded', producerInfo('alice-cam', 'alice-1', 'video')],
	['producerAdded', producerInfo('alice-mic', 'alice-1', 'audio')],
	['participantJoined', carol],
	['producerAdded', producerInfo('carol-screen', 'carol-1', 'video', { source: 'screen' })],
	['federationLinks', { links: [{ domain: 'a.test', up: true, rttMs: 2 }] }],
];

/** What a user sees of the tiles (order included). */
function visible(tiles: Tile[]): string[] {
	return tiles.map(
		(t) =>
			`${t.key} ${t.displayName}@${t.domain ?? '-'}${t.foreign ? ' foreign' : ''} ${t.source} video=${t.videoProducerId ?? '-'}${t.videoOff ? ' off' : ''} audio=${t.audioProducerId ?? '-'}`,
	);
}

function permutations<T>(items: T[]): T[][] {
	if (items.length <= 1) return [items];
	return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

function stateAfter(list: Event[]): CallState {
	const state = new CallState();
	state.reset(reply(), 'Me');
	for (const [name, payload] of list) state.apply(name, payload);
	return state;
}

test('the same events in any of their 720 orders give the same tiles', () => {
	const expected = visible(stateAfter(events).snapshot().tiles);
	assert.equal(expected, [
		'me Me@b.test camera video=- off audio=-',
		'alice-1 Alice@a.test foreign camera video=alice-cam audio=alice-mic',
		'carol-1 Carol@b.test camera video=- off audio=-',
		'screen:carol-screen Carol@b.test screen video=carol-screen audio=-',
	]);
	const orders = permutations(events);
	assert.is(orders.length, 720);
	for (const order of orders) {
		const tiles = visible(stateAfter(order).snapshot().tiles);
		// Tile order follows arrival; the set of tiles and what each shows must not.
		assert.equal(
			[...tiles].sort(),
			[...expected].sort(),
			`order ${order.map(([n, p]) => `${n}:${JSON.stringify(p).slice(0, 40)}`).join(' | ')}`,
		);
	}
});

test('a producer announced before its participant waits for it, and is not consumed until then', () => {
	const state = new CallState();
	state.reset(reply(), 'Me');
	state.apply('producerAdded', producerInfo('alice-cam', 'alice-1', 'video'));
	assert.is(state.snapshot().tiles.length, 1, 'only the own tile');
	assert.equal(state.wantedProducers, []);
	state.apply('participantJoined', alice);
	assert.equal(
		state.wantedProducers.map((p) => p.producerId),
		['alice-cam'],
	);
	assert.is(state.snapshot().tiles[1]?.videoProducerId, 'alice-cam');
});

test('repeated events never duplicate a tile; leaving removes the participant and its streams', () => {
	const state = stateAfter([...events, ...events, ['participantJoined', { ...alice, displayName: 'Alice B.' }]]);
	const tiles = state.snapshot().tiles;
	assert.equal(
		tiles.map((t) => t.key),
		['me', 'alice-1', 'carol-1', 'screen:carol-screen'],
	);
	assert.is(tiles[1]?.displayName, 'Alice B.', 'a repeated join updates the participant');
	state.addConsumer('c1', 'alice-cam');
	state.apply('participantLeft', { participantId: 'alice-1' });
	assert.equal(
		state.snapshot().tiles.map((t) => t.key),
		['me', 'carol-1', 'screen:carol-screen'],
	);
	assert.is(state.consumerOf('alice-cam'), undefined, "the consumer of alice's camera went with her");
	assert.ok(!state.snapshot().producers.some((p) => p.participantId === 'alice-1'));
	// Federation re-creates mirrored participants and streams under the same ids.
	state.apply('participantJoined', alice);
	state.apply('producerAdded', producerInfo('alice-cam', 'alice-1', 'video'));
	assert.is(state.snapshot().tiles.find((t) => t.key === 'alice-1')?.videoProducerId, 'alice-cam', 'the same ids can come back');
});

test('reconnect: a new join reply replaces everything; the own old participant is never shown', () => {
	const state = stateAfter(events);
	state.addConsumer('c1', 'alice-cam');
	state.apply('activeSpeakers', { speakers: [{ participantId: 'alice-1', producerId: 'alice-mic', volume: -20 }] });
	// After the drop the SFT may still list our old session for a moment, and carol left meanwhile.
	state.reset(
		reply({
			participantId: 'me-2',
			participants: [alice, { participantId: 'me', userId: 'me', displayName: 'Me', domain: 'b.test' }],
			producers: [producerInfo('alice-cam', 'alice-1', 'video'), producerInfo('old-own-mic', 'me', 'audio')],
		}),
		'Me',
	);
	const snapshot = state.snapshot();
	assert.equal(
		snapshot.tiles.map((t) => t.key),
		['me-2', 'alice-1'],
	);
	assert.is(snapshot.participantId, 'me-2');
	assert.equal(snapshot.speakers, [], 'speakers start over');
	assert.is(state.consumerOf('alice-cam'), undefined, 'consumers of the old session are gone');
	assert.equal(
		state.wantedProducers.map((p) => p.producerId),
		['alice-cam'],
	);
	// Events for the old own id after the reset change nothing.
	assert.not.ok(state.apply('participantJoined', { participantId: 'me', userId: 'me', displayName: 'Me' }));
	assert.is(state.snapshot().tiles.length, 2);
});

test('federation facts: foreign badge, anchor, links, federated flag', () => {
	const single = new CallState();
	single.reset(reply({ descriptor: undefined, domain: undefined }), 'Me');
	single.apply('participantJoined', { participantId: 'x', userId: 'x', displayName: 'X' });
	assert.is(single.snapshot().federated, false);
	assert.is(single.snapshot().tiles[1]?.foreign, false, 'no domains, no badge');

	const state = stateAfter(events);
	const snapshot = state.snapshot();
	assert.is(snapshot.federated, true);
	assert.is(snapshot.anchorDomain, 'a.test');
	assert.equal(snapshot.links, [{ domain: 'a.test', up: true, rttMs: 2 }]);
	state.apply('federationLinks', { links: [{ domain: 'a.test', up: false }] });
	assert.equal(state.snapshot().links, [{ domain: 'a.test', up: false }]);
	// Anchor failover: the survivors' new anchor is what the client invites others with.
	const createdAt = snapshot.descriptor?.createdAt ?? '';
	state.apply('conferenceDescriptor', { descriptor: { conferenceId: 'standup', anchorDomain: 'c.test', createdAt } });
	assert.is(state.snapshot().anchorDomain, 'c.test');
	assert.is(state.snapshot().descriptor?.createdAt, createdAt);
});

test('speakers, pauses, layers and pins show on the tiles', () => {
	const state = stateAfter(events);
	state.addConsumer('c-cam', 'alice-cam');
	state.apply('consumerLayersChanged', { consumerId: 'c-cam', producerId: 'alice-cam', spatialLayer: 2, temporalLayer: 1 });
	state.apply('activeSpeakers', { speakers: [{ participantId: 'alice-1', producerId: 'alice-mic', volume: -30 }] });
	state.apply('producerPaused', { producerId: 'alice-mic' });
	state.pin('alice-1');
	let tile = state.snapshot().tiles.find((t) => t.key === 'alice-1');
	assert.equal(tile?.layers, { spatialLayer: 2, temporalLayer: 1 });
	assert.is(tile?.speaking, true);
	assert.is(tile?.audioMuted, true);
	assert.is(tile?.pinned, true);
	state.apply('producerResumed', { producerId: 'alice-mic' });
	state.apply('producerPaused', { producerId: 'alice-cam' });
	tile = state.snapshot().tiles.find((t) => t.key === 'alice-1');
	assert.is(tile?.audioMuted, false);
	assert.is(tile?.videoOff, true);
	// Events about things the client does not know are ignored.
	assert.not.ok(state.apply('consumerPaused', { consumerId: 'nope', paused: true }));
	assert.not.ok(state.apply('producerClosed', { producerId: 'nope' }));
});

test('the view: tiles on screen with video, pinned first, then speakers, at most maxVideos', () => {
	const state = new CallState();
	state.reset(reply(), 'Me');
	for (const i of [1, 2, 3, 4]) {
		state.apply('participantJoined', { participantId: `p${i}`, userId: `u${i}`, displayName: `P${i}`, domain: 'b.test' });
		state.apply('producerAdded', producerInfo(`v${i}`, `p${i}`, 'video'));
	}
	state.pin('p3');
	const sizes = new Map([
		['me', { width: 320, height: 180 }],
		['p1', { width: 320, height: 180 }],
		['p2', { width: 320, height: 180 }],
		['p3', { width: 1280, height: 720 }],
		['p4', { width: 0, height: 0 }],
	]);
	const { tiles } = state.snapshot();
	assert.equal(viewFor(tiles, sizes, ['p2'], 9), [
		{ producerId: 'v3', width: 1280, height: 720, pinned: true },
		{ producerId: 'v2', width: 320, height: 180 },
		{ producerId: 'v1', width: 320, height: 180 },
	]);
	assert.equal(
		viewFor(tiles, sizes, ['p2'], 2).map((t) => t.producerId),
		['v3', 'v2'],
	);
});

class FakeSender {
	readonly calls: boolean[][] = [];
	#encodings = [{ active: true }, { active: true }, { active: true }];
	delayMs = 0;
	inFlight = 0;
	overlapped = false;

	getParameters(): RTCRtpSendParameters {
		return { encodings: this.#encodings.map((e) => ({ ...e })), transactionId: 't', codecs: [], headerExtensions: [], rtcp: {} };
	}

	async setParameters(parameters: RTCRtpSendParameters): Promise<void> {
		if (this.inFlight > 0) this.overlapped = true;
		this.inFlight++;
		await new Promise((resolve) => setTimeout(resolve, this.delayMs));
		this.inFlight--;
		this.#encodings = parameters.encodings.map((e) => ({ active: e.active ?? true }));
		this.calls.push(this.#encodings.map((e) => e.active));
	}

	get active(): boolean[] {
		return this.#encodings.map((e) => e.active);
	}
}

test('encodingsNeeded: flags applied to the sender encodings; no call when nothing changes', async () => {
	const sender = new FakeSender();
	assert.is(await applyEncodingsNeeded(sender, [true, true, false]), true);
	assert.equal(sender.active, [true, true, false]);
	assert.is(await applyEncodingsNeeded(sender, [true, true, false]), false, 'same flags: no setParameters');
	assert.is(await applyEncodingsNeeded(sender, [false]), true, 'missing flags leave encodings as they are');
	assert.equal(sender.active, [false, true, false]);
	assert.is(sender.calls.length, 2);
});

test('encodingsNeeded: rapid requests never overlap setParameters and the last one wins', async () => {
	const sender = new FakeSender();
	sender.delayMs = 20;
	const errors: unknown[] = [];
	const encodings = new EncodingSwitch(sender, (error) => errors.push(error));
	const done = [
		encodings.set([true, false, false]),
		encodings.set([true, true, false]),
		encodings.set([false, false, true]),
		encodings.set([true, true, true]),
	];
	await Promise.all(done);
	assert.not.ok(sender.overlapped, 'setParameters calls never overlap');
	assert.equal(sender.active, [true, true, true]);
	assert.ok(sender.calls.length <= 2, `overtaken requests are skipped (${sender.calls.length} calls)`);
	await encodings.set([true, false, false]);
	assert.equal(sender.active, [true, false, false], 'a later request after the queue drained still applies');
	assert.equal(errors, []);
});

test.run();
