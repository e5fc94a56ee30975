// A real browser calls the SFT: headless Chromium (Debian's /usr/bin/chromium,
// mediasoup-client 3.24 in the page) in a private network namespace joins a
// conference on an in-process SftServer bound to the host end of a veth pair.
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AccessRight } from '../signalling/client/accessToken.ts';
import { type BrowserCaller, browserTestUnavailable, type CallInfo, pollUntil } from './support/browserCaller.ts';
import { BrowserTestBed } from './support/browserTestBed.ts';

const MEDIA_TIMEOUT_MS = 40_000;
const started = Date.now();

const unavailable = await browserTestUnavailable();
let bed: BrowserTestBed | undefined;
const sockets: Socket[] = [];

function ready(): BrowserTestBed {
	if (!bed) throw new Error(`browser test setup failed: ${setupError?.message ?? 'not started'}`);
	return bed;
}
const token = (user: string, conference: string, right: AccessRight) => ready().token(user, conference, right);
const sftUrl = () => ready().sftUrl;
const openCaller = (name: string) => ready().openCaller(name);
const serverLogTail = () => bed?.serverLogTail() ?? '';
const server = () => ready().server;

// uvu swallows an exception thrown by a before hook; keep it for the tests to report.
let setupError: Error | undefined;

test.before(async () => {
	if (unavailable) return;
	try {
		bed = await BrowserTestBed.start({ media: { audioLevelIntervalMs: 300 } });
		console.log(
			`# browser test network ${bed.network.namespace}: Chromium at ${bed.network.namespaceIp}, SFT at ${bed.sftUrl}; setup ${Date.now() - started} ms`,
		);
	} catch (error) {
		setupError = error as Error;
	}
});

test.after(async () => {
	for (const socket of sockets) socket.close();
	await bed?.close();
	console.log(`# browser-call total ${Date.now() - started} ms`);
	// Playwright and the mediasoup worker keep handles; do not wait for them.
	setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
});

const conferenceId = `browser-${randomUUID().slice(0, 8)}`;
let alice: BrowserCaller | undefined;
let bob: BrowserCaller | undefined;
let aliceInfo: CallInfo | undefined;
let bobInfo: CallInfo | undefined;

test('two Chromium pages call each other through the SFT', async () => {
	if (unavailable) {
		console.log(`# SKIPPED browser call: ${unavailable}`);
		return;
	}
	if (setupError) throw new Error(`browser test setup failed: ${setupError.message} ${serverLogTail()}`);
	const t0 = Date.now();
	alice = await openCaller('alice');
	bob = await openCaller('bob');
	const video = { width: 320, height: 240, frameRate: 15 };
	aliceInfo = await alice.start({ url: sftUrl(), token: token('alice', conferenceId, 'start'), conferenceId, displayName: 'Alice', video });
	bobInfo = await bob.start({ url: sftUrl(), token: token('bob', conferenceId, 'join'), conferenceId, displayName: 'Bob', video });
	assert.ok(aliceInfo.handlerName.startsWith('Chrome'), `mediasoup-client chose handler ${aliceInfo.handlerName}`);

	const context = async () => `${await alice!.describe()} ${await bob!.describe()} ${serverLogTail()}`;
	const flowing = (s: Awaited<ReturnType<BrowserCaller['stats']>>) =>
		s.inbound.video.framesDecoded > 0 && s.inbound.audio.packetsReceived > 0;
	const [aliceStats, bobStats] = await Promise.all([
		pollUntil(() => alice!.stats(), flowing, "alice decoding bob's video and receiving his audio", MEDIA_TIMEOUT_MS, context),
		pollUntil(() => bob!.stats(), flowing, "bob decoding alice's video and receiving her audio", MEDIA_TIMEOUT_MS, context),
	]);
	console.log(
		`# media flowing after ${Date.now() - t0} ms: alice got ${aliceStats.inbound.video.framesDecoded} frames / ${aliceStats.inbound.audio.packetsReceived} audio packets, ` +
			`bob got ${bobStats.inbound.video.framesDecoded} frames / ${bobStats.inbound.audio.packetsReceived} audio packets ` +
			`(probation packets ${aliceStats.probationPackets} / ${bobStats.probationPackets})`,
	);
	for (const [name, stats, other] of [
		['alice', aliceStats, bobInfo],
		['bob', bobStats, aliceInfo],
	] as const) {
		assert.is(stats.inbound.video.streams, 1, `${name} receives exactly one video stream`);
		assert.is(stats.inbound.audio.streams, 1, `${name} receives exactly one audio stream`);
		assert.equal(
			[...stats.consumed].sort(),
			[other.producerIds.audio, other.producerIds.video].sort(),
			`${name} consumed the other's producers`,
		);
		assert.is(stats.sendConnectionState, 'connected', `${name} send transport`);
		assert.is(stats.recvConnectionState, 'connected', `${name} recv transport`);
	}
	assert.equal(await alice.errors(), [], 'alice page errors');
	assert.equal(await bob.errors(), [], 'bob page errors');

	// The SFT's object model agrees.
	const conference = server().sft.getConference(conferenceId);
	assert.ok(conference, 'the conference exists in the SFT');
	const participants = conference.participants;
	assert.is(participants.length, 2, 'two participants');
	assert.equal(participants.map((p) => p.id).sort(), [aliceInfo.participantId, bobInfo.participantId].sort());
	for (const participant of participants) {
		const mine = participant.id === aliceInfo.participantId ? aliceInfo : bobInfo;
		const theirs = mine === aliceInfo ? bobInfo : aliceInfo;
		assert.equal(
			participant.producers.map((p) => p.kind).sort(),
			['audio', 'video'],
			`${participant.displayName} has an audio and a video producer`,
		);
		assert.equal(participant.producers.map((p) => p.id).sort(), [mine.producerIds.audio, mine.producerIds.video].sort());
		assert.is(participant.consumers.length, 2, `${participant.displayName} has two consumers`);
		assert.equal(participant.consumers.map((c) => c.producerId).sort(), [theirs.producerIds.audio, theirs.producerIds.video].sort());
		assert.ok(
			participant.consumers.every((c) => !c.paused),
			`${participant.displayName}'s consumers flow (not paused)`,
		);
	}
});

test('the SFT ranks the page as an active speaker (fake microphone beeps)', async () => {
	if (unavailable || !alice || !bob || !aliceInfo || !bobInfo) {
		console.log(`# SKIPPED active speakers: ${unavailable ?? 'the call test did not get far enough'}`);
		return;
	}
	// A werift-free Node listener: plain socket.io, joins without media and
	// watches the activeSpeakers notifications.
	const socket = io(sftUrl(), {
		transports: ['websocket'],
		reconnection: false,
		forceNew: true,
		rejectUnauthorized: false,
		timeout: 10_000,
	});
	sockets.push(socket);
	const speakerEvents: { speakers: { participantId: string; producerId: string; volume: number }[] }[] = [];
	socket.on('activeSpeakers', (payload) => speakerEvents.push(payload));
	await new Promise<void>((resolve, reject) => {
		socket.once('connect', () => resolve());
		socket.once('connect_error', (error) => reject(new Error(`node listener cannot connect: ${error.message}`)));
	});
	const caps = (await socket.timeout(10_000).emitWithAck('getCapabilities', {})) as { ok: boolean; data: { rtpCapabilities: unknown } };
	assert.ok(caps.ok, 'getCapabilities');
	const joined = (await socket.timeout(10_000).emitWithAck('join', {
		token: token('listener', conferenceId, 'join'),
		conferenceId,
		rtpCapabilities: caps.data.rtpCapabilities,
		displayName: 'Listener',
	})) as { ok: boolean; error?: unknown };
	assert.ok(joined.ok, `listener join: ${JSON.stringify(joined.error)}`);

	const pageAudio = new Set([aliceInfo.producerIds.audio, bobInfo.producerIds.audio]);
	const conference = server().sft.getConference(conferenceId)!;
	// The observer ranking is the ground truth; the events are only sent on change.
	await pollUntil(
		async () => conference.audioRanking.filter((id) => pageAudio.has(id)).length,
		(n) => n > 0,
		'the audio-level observer to rank a page microphone',
		15_000,
		async () => `${serverLogTail()}`,
	);
	const named = await pollUntil(
		async () => speakerEvents.flatMap((e) => e.speakers).filter((s) => pageAudio.has(s.producerId)),
		(s) => s.length > 0,
		'an activeSpeakers event naming a page microphone at the Node listener',
		15_000,
	);
	assert.ok(
		named.every((s) => s.volume <= 0 && s.volume >= -127),
		'volumes are dBov',
	);
	const pageSpeakers = await alice.events('activeSpeakers');
	console.log(
		`# active speakers: node listener got ${speakerEvents.length} events, alice's page ${pageSpeakers.length}; loudest volume ${Math.max(...named.map((s) => s.volume))} dBov`,
	);
	assert.ok(pageSpeakers.length > 0, "alice's page received activeSpeakers events");
});

test.run();
