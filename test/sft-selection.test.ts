// Stream selection on real mediasoup workers with real UDP RTP: loudest-N
// audio, video views, no echo of one's own stream, and worker death.
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Conference } from '../sft/Conference.ts';
import { MediaError } from '../sft/MediaError.ts';
import type { MediaWorker } from '../sft/MediaWorker.ts';
import type { Sft } from '../sft/Sft.ts';
import { type AudioSendOptions, PlainRtpClient, type VideoSendOptions } from './support/plainRtpClient.ts';
import { exitSoon, sleep, startTestSft, waitFor } from './support/testSft.ts';

const MAX_AUDIBLE = 5;
/** Packets a paused stream may still show in a window (none expected; slack for a packet in flight). */
const PAUSED_SLACK = 2;
/** Share of a window's packets a selected stream must deliver on loopback. */
const FLOWING_SHARE = 0.8;
const WINDOW_MS = 1500;

let sft: Sft;
const clients: PlainRtpClient[] = [];

test.before(async () => {
	sft = await startTestSft({ maxVideos: 9, maxAudible: MAX_AUDIBLE });
});

test.after(async () => {
	await Promise.allSettled(clients.map((c) => c.stop()));
	sft?.close();
	exitSoon();
});

async function join(
	conference: Conference,
	name: string,
	media: { audio?: AudioSendOptions; video?: VideoSendOptions } = {},
): Promise<PlainRtpClient> {
	const client = await PlainRtpClient.join({ conference, rtpCapabilities: sft.rtpCapabilities, name, ...media });
	clients.push(client);
	return client;
}

type Window = Map<string, { from: number; to: number }>;

/**
 * Counts in sender sequence numbers, not time: which packets each producer
 * sent during the window. Packets already in flight when it opens are outside.
 */
async function measure(senders: PlainRtpClient[], ms = WINDOW_MS): Promise<Window> {
	const local = senders.flatMap((c) => [c.audio, c.video]).filter((s) => s !== undefined);
	const from = new Map(local.map((s) => [s.producer.id, s.sender.sent]));
	await sleep(ms);
	const window: Window = new Map(local.map((s) => [s.producer.id, { from: from.get(s.producer.id) ?? 0, to: s.sender.sent }]));
	await sleep(500); // let the window's last packets arrive
	return window;
}

function got(receiver: PlainRtpClient, producerId: string, window: Window): { got: number; sent: number } {
	const range = window.get(producerId);
	if (!range) throw new Error(`producer ${producerId} was not measured`);
	const counter = receiver.remote(producerId)?.counter;
	return { got: counter ? counter.seqs.countRange(range.from, range.to) : 0, sent: range.to - range.from };
}

function assertFlowing(receiver: PlainRtpClient, producerId: string, window: Window, label: string): void {
	const { got: n, sent } = got(receiver, producerId, window);
	assert.ok(sent > 0, `${label}: sender sent nothing in the window`);
	assert.ok(n >= FLOWING_SHARE * sent, `${label}: expected to flow, got ${n}/${sent}`);
}

function assertPaused(receiver: PlainRtpClient, producerId: string, window: Window, label: string): void {
	const { got: n, sent } = got(receiver, producerId, window);
	assert.ok(n <= PAUSED_SLACK, `${label}: expected paused, got ${n}/${sent}`);
}

/**
 * Waits until no consumer of these clients has been paused or resumed for
 * `quietMs`: selection changes have reached the worker, whatever they were.
 */
async function settle(receivers: PlainRtpClient[], quietMs = 400, timeoutMs = 5000): Promise<void> {
	let lastChange = Date.now();
	const touch = () => (lastChange = Date.now());
	for (const r of receivers) r.participant.on('consumerPausedChanged', touch);
	try {
		const deadline = Date.now() + timeoutMs;
		while (Date.now() - lastChange < quietMs && Date.now() < deadline) await sleep(50);
	} finally {
		for (const r of receivers) r.participant.off('consumerPausedChanged', touch);
	}
}

function audioId(client: PlainRtpClient): string {
	if (!client.audio) throw new Error(`${client.participant.displayName} sends no audio`);
	return client.audio.producer.id;
}

function videoId(client: PlainRtpClient): string {
	if (!client.video) throw new Error(`${client.participant.displayName} sends no video`);
	return client.video.producer.id;
}

test('audio: listeners hear only the 5 loudest; a speaker hears the 5 loudest others; ranking follows level changes', async () => {
	const conference = await sft.getOrCreateConference(`audio-${randomUUID()}`);
	// Arrival order differs from loudness, so arrival-order selection (before
	// the observer ranks anyone) would pick a different set.
	const levels = [40, 70, 10, 60, 20, 50, 30];
	const speakers: PlainRtpClient[] = [];
	for (const [i, levelDbov] of levels.entries()) speakers.push(await join(conference, `speaker${i}`, { audio: { levelDbov } }));
	const listeners = [await join(conference, 'listener0'), await join(conference, 'listener1')];
	await Promise.all([...speakers, ...listeners].map((c) => c.settled()));
	for (const s of speakers) s.startSending();

	const byLoudness = speakers
		.map((speaker, i) => ({ speaker, level: levels[i]! }))
		.sort((a, b) => a.level - b.level)
		.map((e) => e.speaker);
	const loudest = byLoudness[0]!;
	const quietest = byLoudness[6]!;
	await waitFor(
		() => sameList(conference.audioRanking.slice(0, 6), byLoudness.slice(0, 6).map(audioId)),
		'the observer to rank the 6 loudest',
		10_000,
	);
	await settle([...speakers, ...listeners]);

	let window = await measure(speakers);
	for (const listener of listeners) {
		for (const [rank, speaker] of byLoudness.entries()) {
			const label = `${listener.participant.displayName} ← ${speaker.participant.displayName} (rank ${rank})`;
			if (rank < MAX_AUDIBLE) assertFlowing(listener, audioId(speaker), window, label);
			else assertPaused(listener, audioId(speaker), window, label);
		}
	}
	// The loudest speaker hears ranks 1..5; the quietest hears ranks 0..4.
	for (const [rank, speaker] of byLoudness.entries()) {
		if (speaker === loudest) continue;
		const label = `loudest ← rank ${rank}`;
		if (rank <= MAX_AUDIBLE) assertFlowing(loudest, audioId(speaker), window, label);
		else assertPaused(loudest, audioId(speaker), window, label);
	}
	for (const [rank, speaker] of byLoudness.entries()) {
		if (speaker === quietest) continue;
		const label = `quietest ← rank ${rank}`;
		if (rank < MAX_AUDIBLE) assertFlowing(quietest, audioId(speaker), window, label);
		else assertPaused(quietest, audioId(speaker), window, label);
	}
	assert.is(loudest.remote(audioId(loudest)), undefined, 'a speaker never consumes itself');

	// The quietest becomes the loudest: it enters, the previous 5th drops out.
	quietest.audio?.sender.setLevel(5);
	await waitFor(() => conference.audioRanking[0] === audioId(quietest), 'the new loudest speaker to be ranked first', 10_000);
	await settle([...speakers, ...listeners]);
	window = await measure(speakers);
	const nowAudible = [quietest, ...byLoudness.slice(0, 4)];
	const droppedOut = byLoudness[4]!;
	for (const listener of listeners) {
		for (const speaker of nowAudible)
			assertFlowing(listener, audioId(speaker), window, `after change: ${speaker.participant.displayName} audible`);
		assertPaused(listener, audioId(droppedOut), window, 'after change: previous 5th dropped out');
		assertPaused(listener, audioId(byLoudness[5]!), window, 'after change: 6th still out');
	}
	await Promise.all([...speakers, ...listeners].map((c) => c.stop()));
	assert.is(
		speakers.reduce((n, s) => n + s.ownPackets + s.misrouted, 0),
		0,
		'no own or misrouted packets',
	);
});

test('video: a view of 2 receives exactly those 2, switching views switches streams, 10 ids are refused', async () => {
	const conference = await sft.getOrCreateConference(`video-${randomUUID()}`);
	const cameras: PlainRtpClient[] = [];
	// Key frames only on request: a switched-in stream must come from mediasoup's PLI.
	for (let i = 0; i < 4; i++)
		cameras.push(await join(conference, `camera${i}`, { video: { packetsPerSecond: 100, framesPerSecond: 25, keyFrameIntervalMs: 0 } }));
	const viewer = await join(conference, 'viewer');
	await viewer.settled();
	assert.is(viewer.remoteStreams.length, 4);
	for (const c of cameras) c.startSending();
	const [c0, c1, c2, c3] = cameras as [PlainRtpClient, PlainRtpClient, PlainRtpClient, PlainRtpClient];

	await viewer.participant.setView([videoId(c0), videoId(c2)]);
	await settle([viewer]);
	let window = await measure(cameras);
	assertFlowing(viewer, videoId(c0), window, 'view 1: camera0');
	assertFlowing(viewer, videoId(c2), window, 'view 1: camera2');
	assertPaused(viewer, videoId(c1), window, 'view 1: camera1');
	assertPaused(viewer, videoId(c3), window, 'view 1: camera3');

	await viewer.participant.setView([videoId(c1), videoId(c3)]);
	await settle([viewer]);
	window = await measure(cameras);
	assertFlowing(viewer, videoId(c1), window, 'view 2: camera1');
	assertFlowing(viewer, videoId(c3), window, 'view 2: camera3');
	assertPaused(viewer, videoId(c0), window, 'view 2: camera0');
	assertPaused(viewer, videoId(c2), window, 'view 2: camera2');

	const tooMany = [...cameras.map(videoId), ...Array.from({ length: 6 }, () => randomUUID())];
	const refusal = await viewer.participant.setView(tooMany).then(
		() => undefined,
		(error: unknown) => error,
	);
	assert.instance(refusal, MediaError);
	assert.is((refusal as MediaError).code, 'view_too_large');
	assert.ok(
		viewer.participant.isSelected(videoId(c1), 'video') && !viewer.participant.isSelected(videoId(c0), 'video'),
		'a refused view leaves the old one in place',
	);
	await Promise.all([...cameras, viewer].map((c) => c.stop()));
});

test('a client never receives its own stream', async () => {
	const conference = await sft.getOrCreateConference(`own-${randomUUID()}`);
	const me = await join(conference, 'me', { audio: { levelDbov: 5 }, video: { packetsPerSecond: 50 } });
	const other = await join(conference, 'other', { audio: { levelDbov: 30 }, video: { packetsPerSecond: 50 } });
	await Promise.all([me.settled(), other.settled()]);
	for (const producer of [me.audio?.producer, me.video?.producer]) {
		if (!producer) throw new Error('me produces audio and video');
		const refusal = await me.consumeProducer(producer).then(
			() => undefined,
			(error: unknown) => error,
		);
		assert.instance(refusal, MediaError, `${producer.kind}: consuming one's own producer is refused`);
		assert.is((refusal as MediaError).code, 'own_producer');
	}
	assert.equal(me.participant.consumers.map((c) => c.producerId).sort(), [audioId(other), videoId(other)].sort());

	me.startSending();
	other.startSending();
	await waitFor(() => conference.audioRanking[0] === audioId(me), 'me to be ranked loudest', 10_000);
	assert.not.ok(me.participant.isSelected(audioId(me), 'audio'), 'the loudest speaker is not selected for itself');
	assert.not.ok(me.participant.isSelected(videoId(me), 'video'), 'own video is not in the default view');
	await sleep(500);
	assert.ok((me.remote(audioId(other))?.counter.unique ?? 0) > 0, 'me receives the other client');
	assert.is(me.ownPackets, 0);
	await Promise.all([me.stop(), other.stop()]);
});

test('worker killed: conference closes with worker_died, the pool replaces the worker, a new conference forwards', async () => {
	const conferenceId = `doomed-${randomUUID()}`;
	const conference = await sft.getOrCreateConference(conferenceId);
	const a = await join(conference, 'a', { audio: { levelDbov: 20 } });
	const b = await join(conference, 'b', { audio: { levelDbov: 30 } });
	await Promise.all([a.settled(), b.settled()]);
	a.startSending();
	b.startSending();
	await waitFor(() => (b.remote(audioId(a))?.counter.unique ?? 0) > 10, 'media to flow before the kill', 5000);

	const dead = conference.mediaWorker;
	const closed = new Promise<string>((resolve) => conference.once('closed', resolve));
	const replaced = new Promise<MediaWorker | undefined>((resolve) =>
		sft.pool.once('workerDied', (_dead, _error, replacement) => resolve(replacement)),
	);
	process.kill(dead.pid, 'SIGKILL');
	assert.is(await withTimeout(closed, 5000, 'conference closed'), 'worker_died');
	const replacement = await withTimeout(replaced, 10_000, 'worker replaced');
	assert.ok(replacement, 'the pool spawned a replacement');
	assert.is.not(replacement.pid, dead.pid);
	assert.ok(sft.pool.workers.includes(replacement));
	assert.not.ok(sft.pool.workers.includes(dead));
	assert.is(sft.getConference(conferenceId), undefined, 'the dead conference is forgotten');
	await Promise.all([a.stop(), b.stop()]);

	const fresh = await sft.getOrCreateConference(`reborn-${randomUUID()}`);
	assert.is(fresh.mediaWorker, replacement);
	const sender = await join(fresh, 'sender', { audio: { levelDbov: 20 } });
	const receiver = await join(fresh, 'receiver');
	await receiver.settled();
	sender.startSending();
	await sleep(300);
	const window = await measure([sender], 1000);
	assertFlowing(receiver, audioId(sender), window, 'new conference on the replacement worker');
	await Promise.all([sender.stop(), receiver.stop()]);
});

function sameList(a: readonly string[], b: readonly string[]): boolean {
	return a.length === b.length && a.every((x, i) => x === b[i]);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test.run();
