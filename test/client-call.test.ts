// The SDK's Call driven through a fake connection and fake media: what it
// asks the SFT, what it consumes, how it applies encodingsNeeded to its own
// senders, and how it rejoins after a signalling drop without duplicates.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Call, type RemoteTrack } from '../client/Call.ts';
import type { Capabilities, JoinReply } from '../client/protocol.ts';
import { RequestError } from '../client/Signalling.ts';
import { FakeDevice, type FakeSender, FakeSignalling, type FakeTransport, fakeTrack, producerInfo } from './support/fakeSft.ts';

const simulcastCaps: Capabilities = {
	rtpCapabilities: {},
	limits: { maxVideos: 9, maxAudible: 5 },
	simulcast: {
		camera: {
			width: 1280,
			height: 720,
			encodings: [
				{ scaleResolutionDownBy: 4, maxBitrate: 150_000, scalabilityMode: 'L1T3' },
				{ scaleResolutionDownBy: 2, maxBitrate: 500_000, scalabilityMode: 'L1T3' },
				{ scaleResolutionDownBy: 1, maxBitrate: 1_500_000, scalabilityMode: 'L1T3' },
			],
		},
		screen: { width: 1920, height: 1080, encodings: [{ scaleResolutionDownBy: 1, maxBitrate: 1_500_000, scalabilityMode: 'L1T3' }] },
	},
};

const alice = { participantId: 'alice-1', userId: 'alice', displayName: 'Alice', domain: 'a.test' };
const aliceProducers = [producerInfo('alice-cam', 'alice-1', 'video'), producerInfo('alice-mic', 'alice-1', 'audio')];

function joinReply(participantId: string, overrides: Partial<JoinReply> = {}): JoinReply {
	return {
		participantId,
		conferenceId: 'standup',
		domain: 'b.test',
		rtpCapabilities: {},
		participants: [alice],
		producers: aliceProducers,
		...overrides,
	};
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 10));

async function start(caps: Capabilities = simulcastCaps) {
	const signalling = new FakeSignalling();
	const device = new FakeDevice();
	let joins = 0;
	signalling.handle('join', () => joinReply(`me-${++joins}`));
	const call = await Call.join({ signalling, device, capabilities: caps, token: 'the-token' }, 'standup', { displayName: 'Me' });
	const tracks: RemoteTrack[] = [];
	call.on('trackAdded', (t) => tracks.push(t));
	await settle();
	return { signalling, device, call, tracks };
}

const transports = (device: FakeDevice, direction: 'send' | 'recv') => device.transports.filter((t) => t.direction === direction);
const live = (transport: FakeTransport | undefined) => transport?.consumers.filter((c) => !c.closed).map((c) => c.producerId) ?? [];

test('join consumes and resumes every remote stream once, with the token and display name', async () => {
	const { signalling, device, call } = await start();
	assert.equal(signalling.sent('join')[0], {
		conferenceId: 'standup',
		rtpCapabilities: { codecs: [] },
		token: 'the-token',
		displayName: 'Me',
	});
	const recv = transports(device, 'recv');
	assert.is(recv.length, 1);
	assert.equal(live(recv[0]).sort(), ['alice-cam', 'alice-mic']);
	assert.is(signalling.sent('resume').length, 2, 'each consumer is resumed');
	assert.equal(
		call.snapshot.tiles.map((t) => t.key),
		['me-1', 'alice-1'],
	);
	assert.ok(call.remoteTrack('alice-cam'), 'the remote track is available for rendering');
});

test('publishing a camera sends the recommended simulcast encodings and the source', async () => {
	const { signalling, device, call } = await start();
	const producerId = await call.publish('camera', fakeTrack('video'));
	const send = transports(device, 'send')[0];
	const sender = send?.producers[0]?.rtpSender as FakeSender;
	assert.equal(
		sender.encodings.map((e) => e.maxBitrate),
		[150_000, 500_000, 1_500_000],
	);
	const produce = signalling.sent('produce')[0];
	assert.is(produce?.source, 'camera');
	assert.equal(produce?.appData, { source: 'camera' });
	assert.is(call.producerId('camera'), producerId);
	assert.is(call.snapshot.tiles[0]?.videoOff, false, 'the own tile shows the camera');
});

test('simulcast can be switched off per publication (one encoding)', async () => {
	const { device, call } = await start();
	await call.publish('camera', fakeTrack('video'), { simulcast: false });
	const sender = transports(device, 'send')[0]?.producers[0]?.rtpSender as FakeSender;
	assert.is(sender.encodings.length, 1);
});

test('encodingsNeeded is applied to the own sender with setParameters; others are ignored', async () => {
	const { signalling, device, call } = await start();
	const producerId = await call.publish('camera', fakeTrack('video'));
	const sender = transports(device, 'send')[0]?.producers[0]?.rtpSender as FakeSender;
	const applied: boolean[][] = [];
	call.on('encodingsNeeded', (e) => applied.push(e.active));
	signalling.serverEvent('encodingsNeeded', { producerId, active: [true, true, false] });
	await settle();
	assert.equal(sender.active, [true, true, false]);
	signalling.serverEvent('encodingsNeeded', { producerId, active: [true, false, false] });
	signalling.serverEvent('encodingsNeeded', { producerId: 'not-mine', active: [false, false, false] });
	await settle();
	assert.equal(sender.active, [true, false, false]);
	assert.equal(applied, [
		[true, true, false],
		[true, false, false],
	]);
	assert.is(sender.setCalls, 2);
});

test('tile sizes become setView tiles (pinned first); unchanged sizes are not sent again', async () => {
	const { signalling, call } = await start();
	call.setTileSizes({ 'me-1': { width: 320, height: 180 }, 'alice-1': { width: 640, height: 360 } });
	await settle();
	assert.equal(signalling.sent('setView').at(-1), { tiles: [{ producerId: 'alice-cam', width: 640, height: 360 }] });
	const count = signalling.sent('setView').length;
	call.setTileSizes({ 'me-1': { width: 320, height: 180 }, 'alice-1': { width: 640, height: 360 } });
	await settle();
	assert.is(signalling.sent('setView').length, count, 'same view, no request');
	call.pin('alice-1');
	call.setTileSizes({ 'me-1': { width: 320, height: 180 }, 'alice-1': { width: 1280, height: 720 } });
	await settle();
	assert.equal(signalling.sent('setView').at(-1), { tiles: [{ producerId: 'alice-cam', width: 1280, height: 720, pinned: true }] });
});

test('a view set by producer ids is sent as the shorthand, and stops the automatic view', async () => {
	const { signalling, call } = await start();
	await call.setView(['alice-cam']);
	assert.equal(signalling.sent('setView').at(-1), { producerIds: ['alice-cam'] });
	const count = signalling.sent('setView').length;
	call.pin('alice-1');
	await settle();
	assert.is(signalling.sent('setView').length, count);
});

test('a closed producer drops its track; the same id announced again is consumed again', async () => {
	const { signalling, device, call, tracks } = await start();
	const announced = () => tracks.filter((t) => t.producerId === 'alice-cam').length;
	assert.is(announced(), 1);
	const removed: string[] = [];
	call.on('trackRemoved', ({ producerId }) => removed.push(producerId));
	const recv = transports(device, 'recv')[0];
	const cam = recv?.consumers.find((c) => c.producerId === 'alice-cam');
	signalling.serverEvent('consumerClosed', { consumerId: cam?.id ?? '', producerId: 'alice-cam' });
	signalling.serverEvent('producerClosed', { producerId: 'alice-cam' });
	await settle();
	assert.equal(removed, ['alice-cam']);
	assert.equal(live(recv), ['alice-mic']);
	signalling.serverEvent('producerAdded', aliceProducers[0]!);
	await settle();
	assert.equal(live(recv).sort(), ['alice-cam', 'alice-mic']);
	assert.is(announced(), 2, 'the new consumer is announced');
	assert.is(call.snapshot.tiles.filter((t) => t.participantId === 'alice-1').length, 1);
});

test('reconnect: rejoin, republish (still muted), resubscribe, and no duplicate tiles', async () => {
	const { signalling, device, call } = await start();
	const states: string[] = [];
	call.on('connection', (s) => states.push(s));
	const mic = fakeTrack('audio');
	const cam = fakeTrack('video');
	await call.publish('mic', mic);
	await call.publish('camera', cam);
	await call.setMuted('mic', true);
	call.setTileSizes({ 'alice-1': { width: 640, height: 360 } });
	await settle();

	signalling.drop();
	assert.equal(states, ['reconnecting']);
	assert.ok(
		device.transports.every((t) => t.closed),
		'the old transports are closed',
	);
	// The SFT may still list the old session (me-1) until it notices the drop.
	signalling.handle('join', () =>
		joinReply('me-2', {
			participants: [alice, { participantId: 'me-1', userId: 'me', displayName: 'Me', domain: 'b.test' }],
			producers: [...aliceProducers, producerInfo('old-own-mic', 'me-1', 'audio', { paused: true })],
		}),
	);
	const before = signalling.requests.length;
	signalling.restore();
	await settle();
	assert.equal(states, ['reconnecting', 'connected']);
	const after = signalling.requests.slice(before).map((r) => r.method);
	assert.is(after.filter((m) => m === 'join').length, 1, 'joined once more');
	assert.equal(
		signalling
			.sent('produce')
			.slice(-2)
			.map((p) => p.source),
		['mic', 'camera'],
	);
	const producers = transports(device, 'send').at(-1)?.producers ?? [];
	assert.equal(
		producers.map((p) => p.track),
		[mic, cam],
		'the same tracks are sent again',
	);
	assert.is(producers[0]?.paused, true, 'the mic stays muted');
	assert.ok(
		signalling.sent('pause').some((p) => 'producerId' in p && p.producerId === producers[0]?.id),
		'and the SFT is told',
	);
	assert.equal(live(transports(device, 'recv').at(-1)).sort(), ['alice-cam', 'alice-mic'], 'resubscribed on the new transport');
	assert.equal(
		call.snapshot.tiles.map((t) => t.key),
		['me-2', 'alice-1'],
		'no tile for the old own session, none twice',
	);
	assert.equal(
		signalling.sent('setView').at(-1),
		{ tiles: [{ producerId: 'alice-cam', width: 640, height: 360 }] },
		'the view is set again',
	);
	assert.is(call.remoteTracks.length, 2);
});

test('reconnect with an expired token ends the call with that reason', async () => {
	const { signalling, call } = await start();
	const ended: string[] = [];
	call.on('ended', ({ reason }) => ended.push(reason));
	signalling.drop();
	signalling.handle('join', () => {
		throw new RequestError('join', 'token_expired', 'expired');
	});
	signalling.restore();
	await settle();
	assert.equal(ended, ['token_expired']);
	assert.is(call.connection, 'ended');
	assert.is(call.snapshot.ended, 'token_expired');
});

test('conferenceEnded ends the call; leave tells the SFT', async () => {
	const first = await start();
	const reasons: string[] = [];
	first.call.on('ended', ({ reason }) => reasons.push(reason));
	first.signalling.serverEvent('conferenceEnded', { reason: 'anchor_ended' });
	assert.equal(reasons, ['anchor_ended']);
	assert.ok(first.device.transports.every((t) => t.closed));

	const second = await start();
	await second.call.leave();
	assert.is(second.signalling.sent('leave').length, 1);
	assert.is(second.call.connection, 'ended');
});

test.run();
