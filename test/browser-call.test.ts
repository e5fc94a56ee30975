// A real browser calls the SFT: headless Chromium (Debian's /usr/bin/chromium,
// mediasoup-client 3.24 in the page) in a private network namespace joins a
// conference on an in-process SftServer bound to the host end of a veth pair.
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { io, type Socket } from 'socket.io-client';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type AccessRight, mintAccessToken } from '../signalling/client/accessToken.ts';
import { parseConfig } from '../signalling/config.ts';
import { SftServer } from '../signalling/SftServer.ts';
import {
	BrowserCaller,
	type BrowserHandle,
	browserTestUnavailable,
	bundleClient,
	type CallInfo,
	createTestNetwork,
	launchChromiumIn,
	makeWorkDir,
	type PageServer,
	pollUntil,
	removeStaleNetworks,
	startPageServer,
	type TestNetwork,
} from './support/browserCaller.ts';

const SECRET = `browser-call-${randomUUID()}`;
const MEDIA_TIMEOUT_MS = 40_000;
const started = Date.now();

const unavailable = await browserTestUnavailable();
let network: TestNetwork | undefined;
let server: SftServer | undefined;
let pageServer: PageServer | undefined;
let chromium: BrowserHandle | undefined;
let work: Awaited<ReturnType<typeof makeWorkDir>> | undefined;
const callers: BrowserCaller[] = [];
const sockets: Socket[] = [];
const serverLog: string[] = [];

function token(user: string, conference: string, right: AccessRight): string {
	return mintAccessToken({ user, conference, right, exp: Math.floor(Date.now() / 1000) + 600 }, SECRET);
}

function sftUrl(): string {
	if (!network || !server) throw new Error('setup did not finish');
	return `https://${network.hostIp}:${server.clients.port}`;
}

async function openCaller(name: string): Promise<BrowserCaller> {
	if (!chromium || !pageServer) throw new Error('setup did not finish');
	const caller = await BrowserCaller.open(chromium.browser, pageServer.url, name);
	callers.push(caller);
	return caller;
}

function serverLogTail(): string {
	return serverLog.length ? `SFT log: ${serverLog.slice(-10).join(' | ')}` : '';
}

// uvu swallows an exception thrown by a before hook; keep it for the tests to report.
let setupError: Error | undefined;

test.before(async () => {
	if (unavailable) return;
	try {
		await setup();
	} catch (error) {
		setupError = error as Error;
	}
});

async function setup(): Promise<void> {
	const removed = await removeStaleNetworks();
	if (removed.length) console.log(`# removed stale test networks: ${removed.join(', ')}`);
	work = await makeWorkDir();
	network = await createTestNetwork();
	const logger = pino({ level: 'warn' }, { write: (line: string) => void serverLog.push(line.trim()) });
	server = await SftServer.start(
		parseConfig({
			signalling: { listen: { ip: network.hostIp, port: 0 }, tokenSecret: SECRET },
			media: {
				workers: 1,
				listenIp: network.hostIp,
				announcedAddress: network.hostIp,
				// Port 0: the worker binds a free port from the range below (only this test uses the veth address).
				rtcBasePort: 0,
				rtcMinPort: 42000,
				rtcMaxPort: 48999,
				audioLevelIntervalMs: 300,
			},
			metrics: { listen: { ip: '127.0.0.1', port: 0 } },
			log: { level: 'warn' },
		}),
		logger,
	);
	pageServer = await startPageServer(network.hostIp, await bundleClient(work.dir));
	chromium = await launchChromiumIn(network, work.dir);
	console.log(
		`# browser test network ${network.namespace}: Chromium at ${network.namespaceIp}, SFT at ${sftUrl()}; setup ${Date.now() - started} ms`,
	);
}

test.after(async () => {
	for (const socket of sockets) socket.close();
	for (const caller of callers) await caller.close();
	await chromium?.close();
	await server?.close();
	await pageServer?.close();
	await network?.close();
	await work?.remove();
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
	const conference = server!.sft.getConference(conferenceId);
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
	const conference = server!.sft.getConference(conferenceId)!;
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
