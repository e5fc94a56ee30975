// Federation against misuse: a client's descriptor endpoint is never dialled
// (only static peers or SRV), plain transports cannot exhaust the ports of
// federation pipes, and an authenticated but hostile partner sending more than
// 10,000 malformed, out-of-order and forged conf:* messages affects only its
// own participants: the anchor stays up, leaks nothing, and the other domains'
// participants and media are untouched.
import { createServer } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FederatedDomains } from './support/federatedDomains.ts';
import { PlainSignallingPeer } from './support/plainSignallingPeer.ts';
import { SignallingClient } from './support/signallingClient.ts';
import { watchdog } from './support/testServer.ts';
import { waitFor } from './support/trust-harness.ts';

const test = suite('hostile federation');
watchdog('federation-hostile.test.ts', 180);
let domains: FederatedDomains;
const peers: PlainSignallingPeer[] = [];
const hogs: SignallingClient[] = [];
let alice: PlainSignallingPeer;
let carol: PlainSignallingPeer;
let descriptor: Record<string, unknown>;
const producers: Record<string, string> = {};

test.before(async () => {
	domains = await FederatedDomains.start([
		{ domain: 'a.test', allow: ['b.test', 'c.test'] },
		{ domain: 'b.test', allow: ['a.test'] },
		{ domain: 'c.test', allow: ['a.test'] },
	]);
});
test.after(async () => {
	for (const peer of peers) peer.close();
	for (const hog of hogs) hog.close();
	await domains?.close();
	setTimeout(() => process.exit(), 2000).unref();
});

async function peerAt(domain: string): Promise<PlainSignallingPeer> {
	const peer = await PlainSignallingPeer.connect(domains.url(domain));
	peers.push(peer);
	return peer;
}

const anchorConference = () => domains.server('a.test').sft.getConference('standup');

test('plain transports taking every plain port leave the federation pipes their own range', async () => {
	alice = await peerAt('a.test');
	descriptor = (await alice.join({ token: domains.token('alice', 'standup', 'start'), conferenceId: 'standup' }))['descriptor'] as Record<
		string,
		unknown
	>;
	producers['alice'] = await alice.sendAudio(1001);
	// Ingest clients with the plain right take the rest of the 8-port plain range.
	let refused = 0;
	for (let i = 0; i < 3; i++) {
		const hog = await SignallingClient.connect({ url: domains.url('a.test') });
		hogs.push(hog);
		const { rtpCapabilities } = await hog.request('getCapabilities', {});
		await hog.request('join', {
			conferenceId: 'standup',
			token: domains.token(`hog${i}`, 'standup', 'join'),
			rtpCapabilities: rtpCapabilities as never,
		});
		for (let t = 0; t < 4; t++) await hog.request('createTransport', { direction: 'recv', type: 'plain' }).catch(() => refused++);
	}
	assert.ok(refused > 0, 'the plain range is exhausted');
	carol = await peerAt('c.test');
	await carol.join({ token: domains.token('carol', 'standup', 'join'), conferenceId: 'standup', descriptor });
	producers['carol'] = await carol.sendAudio(3003);
	await waitFor(
		() => anchorConference()?.participants.some((p) => p.producers.some((pr) => pr.id === producers['carol'])) ?? false,
		"carol's stream at the anchor",
		8000,
	);
	for (const hog of hogs.splice(0)) hog.close();
});

test("a descriptor's federationEndpoint is never dialled: the partner is reached through its configured peer entry", async () => {
	let dialled = 0;
	const trap = createServer((socket) => {
		dialled++;
		socket.destroy();
	});
	await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', () => resolve()));
	const port = (trap.address() as { port: number }).port;
	const bob = await peerAt('b.test');
	await bob.join({
		token: domains.token('bob', 'standup', 'join'),
		conferenceId: 'standup',
		descriptor: { ...descriptor, federationEndpoint: { host: '127.0.0.1', port } },
	});
	producers['bob'] = await bob.sendAudio(2002);
	await waitFor(() => anchorConference()?.participants.some((p) => p.userId === 'bob') ?? false, 'bob at the anchor', 8000);
	await new Promise((resolve) => setTimeout(resolve, 300));
	trap.close();
	assert.is(dialled, 0, 'no TCP connection reached the endpoint the client named');
});

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function prng(seed: number): () => number {
	let state = seed;
	return () => {
		state = (state * 1_103_515_245 + 12_345) & 0x7fffffff;
		return state / 0x7fffffff;
	};
}

test('a hostile partner: 10,000+ malformed, out-of-order and forged conf:* messages change nothing but its own participants', async () => {
	const anchor = domains.server('a.test');
	const conference = anchorConference()!;
	const victims = conference.participants.filter((p) => p.origin !== 'b.test');
	const victimIds = victims.map((p) => p.id);
	const victimProducers = victims.flatMap((p) => p.producers.map((pr) => pr.id));
	assert.is(victims.length, 2, 'alice and carol');
	await alice.consume(producers['carol']!);
	await waitFor(() => alice.receivedFrom(producers['carol']!) > 10, 'alice hears carol', 5000);
	const dumpBefore = await conference.router.dump();
	const rssBefore = (await anchor.sft.pool.workers[0]!.resourceUsage()).rssBytes;
	const closedListenersBefore = conference.listenerCount('closed');
	const bobIds = conference.participants.filter((p) => p.origin === 'b.test').map((p) => p.id);

	// The hostile partner is b.test: its authenticated link to the anchor.
	const link = await domains.server('b.test').federation!.connectToPeer({ domain: 'a.test' });
	const random = prng(11);
	const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
	const deep = (depth: number): unknown => (depth === 0 ? {} : { x: deep(depth - 1) });
	const fresh: string[] = [];
	const conferenceIds = ['standup', 'standup', 'no-such-conference', '', 'x'.repeat(200)];
	const rtpParameters = { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 5 }] };
	const message = (i: number): [string, unknown] => {
		const conferenceId = pick(conferenceIds);
		const someone = pick([...victimIds, ...fresh, 'ghost']);
		switch (i % 14) {
			case 0: {
				const id = `mirror-${i}`;
				fresh.push(id);
				return ['conf:participantJoined', { conferenceId, participant: { participantId: id, userId: `u${i}`, displayName: 'x' } }];
			}
			case 1: // forged: another domain's participant id
				return [
					'conf:participantJoined',
					{ conferenceId, participant: { participantId: pick(victimIds), userId: 'alice', displayName: 'Alice' } },
				];
			case 2:
				return ['conf:participantLeft', { conferenceId, participantId: someone }];
			case 3: // forged: a stream for someone else, or reusing a victim's producer id
				return [
					'conf:producerAdded',
					{
						conferenceId,
						participantId: someone,
						producer: {
							producerId: pick([...victimProducers, `p${i}`]),
							kind: 'audio',
							rtpParameters,
							paused: false,
							appData: { participantId: pick(victimIds) },
						},
					},
				];
			case 4:
				return ['conf:producerClosed', { conferenceId, producerId: pick(victimProducers) }];
			case 5:
				return ['conf:producerPaused', { conferenceId, producerId: pick(victimProducers), paused: true }];
			case 6:
				return ['conf:ended', { conferenceId: 'standup', reason: 'forged' }];
			case 7:
				return [
					'conf:rehome',
					{ conferenceId: 'standup', descriptor: { conferenceId: 'standup', anchorDomain: 'b.test', createdAt: '1970-01-01T00:00:00Z' } },
				];
			case 8:
				return [
					'conf:attach',
					{ conferenceId, endpoint: { ip: 'not-an-ip', port: 9, srtpParameters: { cryptoSuite: 'AEAD_AES_256_GCM', keyBase64: 'AAAA' } } },
				];
			case 9:
				return [pick(['conf:participantJoined', 'conf:producerAdded', 'conf:attach']), deep(200)];
			case 10:
				return [
					'conf:participantJoined',
					{ conferenceId, participant: { participantId: `big-${i}`, userId: 'u', displayName: 'x'.repeat(200_000) } },
				];
			case 11:
				return [pick(['conf:participantLeft', 'conf:producerClosed', 'conf:detach']), pick([null, 42, 'text', [], { conferenceId: 7 }])];
			case 12: // out of order: a stream of a participant that was never announced
				return [
					'conf:producerAdded',
					{
						conferenceId,
						participantId: `later-${i}`,
						producer: { producerId: `q${i}`, kind: 'video', rtpParameters, paused: false, appData: {} },
					},
				];
			default:
				return ['conf:detach', { conferenceId: 'no-such-conference' }];
		}
	};
	const total = 10_500;
	let refusedReplies = 0;
	for (let start = 0; start < total; start += 250) {
		const batch = Array.from({ length: Math.min(250, total - start) }, (_, k) => message(start + k));
		const replies = await Promise.all(
			batch.map(([name, payload]) =>
				link.socket
					.timeout(10_000)
					.emitWithAck(name, payload)
					.catch(() => ({ ok: false, error: { code: 'timeout' } })),
			),
		);
		refusedReplies += replies.filter((reply) => !(reply as { ok: boolean }).ok).length;
	}
	assert.ok(refusedReplies > 3000, `most messages refused (${refusedReplies})`);

	// The partner cleans up after itself; what it could add was capped.
	assert.ok(conference.participants.length <= 100, 'participants capped');
	for (const id of fresh) link.socket.emit('conf:participantLeft', { conferenceId: 'standup', participantId: id });
	await waitFor(
		() => conference.participants.filter((p) => p.origin === 'b.test').length === bobIds.length,
		"b.test's additions gone",
		10_000,
	);

	assert.ok(!conference.closed && anchorConference() === conference, 'the anchor conference lives');
	assert.equal(
		conference.participants
			.filter((p) => p.origin !== 'b.test')
			.map((p) => p.id)
			.sort(),
		[...victimIds].sort(),
		'other domains keep their participants',
	);
	const producersNow = conference.participants.filter((p) => p.origin !== 'b.test').flatMap((p) => p.producers);
	assert.equal(producersNow.map((p) => p.id).sort(), [...victimProducers].sort(), 'and their streams');
	assert.ok(
		producersNow.every((p) => !p.paused),
		'none paused by the partner',
	);
	const before = alice.receivedFrom(producers['carol']!);
	await waitFor(() => alice.receivedFrom(producers['carol']!) > before + 20, 'media from carol still flows to alice', 5000);

	const dumpAfter = await conference.router.dump();
	assert.is(dumpAfter.transportIds.length, dumpBefore.transportIds.length, 'no transport leaked');
	assert.is(dumpAfter.mapProducerIdConsumerIds.length, dumpBefore.mapProducerIdConsumerIds.length, 'no producer leaked');
	assert.is(dumpAfter.mapConsumerIdProducerId.length, dumpBefore.mapConsumerIdProducerId.length, 'no consumer leaked');
	assert.is(conference.listenerCount('closed'), closedListenersBefore, 'no listener leaked');
	const rssAfter = (await anchor.sft.pool.workers[0]!.resourceUsage()).rssBytes;
	assert.ok(rssAfter - rssBefore < 40 * 1024 * 1024, `worker memory grew by ${((rssAfter - rssBefore) / 1e6).toFixed(1)} MB`);
	const metrics = await (await fetch(`http://127.0.0.1:${anchor.metricsServer.port}/metrics`)).text();
	assert.match(metrics, /sft_federation_message_refusals_total\{remote_domain="b.test",code="bad_request"\} \d+/);
	// A new client is still served by the anchor.
	const late = await peerAt('a.test');
	await late.join({ token: domains.token('late', 'standup', 'join'), conferenceId: 'standup' });
});

test.run();
