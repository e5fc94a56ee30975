import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PlainRtpClient } from '../bench/rtp/plainRtpClient.ts';
import { FederatedDomains } from './support/federatedDomains.ts';
import { PlainSignallingPeer } from './support/plainSignallingPeer.ts';

// Three domains, each with its own SFT and CA. a.test anchors; b.test and
// c.test federate with it; d.test is not on a.test's allow list.
const test = suite('federated conference');
let domains: FederatedDomains;
const peers: PlainSignallingPeer[] = [];

test.before(async () => {
	domains = await FederatedDomains.start([
		{ domain: 'a.test', allow: ['b.test', 'c.test', 'd.test'] },
		{ domain: 'b.test', allow: ['a.test'] },
		{ domain: 'c.test', allow: ['a.test'] },
		{ domain: 'd.test', allow: ['a.test'] },
	]);
});

test.after(async () => {
	for (const peer of peers) peer.close();
	await domains?.close();
});

async function peerAt(domain: string): Promise<PlainSignallingPeer> {
	const peer = await PlainSignallingPeer.connect(domains.url(domain));
	peers.push(peer);
	return peer;
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!check()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

let descriptor: Record<string, unknown>;
const producers: Record<string, string> = {};
let alice: PlainSignallingPeer;
let bob: PlainSignallingPeer;
let carol: PlainSignallingPeer;

test('the caller gets a descriptor naming its SFT as anchor', async () => {
	alice = await peerAt('a.test');
	const joined = await alice.join({ token: domains.token('alice', 'standup', 'start'), conferenceId: 'standup' });
	descriptor = joined['descriptor'] as Record<string, unknown>;
	assert.is(descriptor['anchorDomain'], 'a.test');
	assert.is(descriptor['conferenceId'], 'standup');
	assert.equal(descriptor['federationEndpoint'], { host: '127.0.0.1', port: domains.server('a.test').federation!.port });
	producers['alice'] = await alice.sendAudio(1001);
});

test('clients of two other domains join through their own SFTs and everyone hears everyone', async () => {
	bob = await peerAt('b.test');
	carol = await peerAt('c.test');
	const bobJoin = await bob.join({ token: domains.token('bob', 'standup', 'join'), conferenceId: 'standup', descriptor });
	producers['bob'] = await bob.sendAudio(2002);
	await carol.join({ token: domains.token('carol', 'standup', 'join'), conferenceId: 'standup', descriptor });
	producers['carol'] = await carol.sendAudio(3003);
	// Bob sees alice's stream at join or as an event; wait until each SFT offers the others' producers.
	const offered = (sft: string) => () => {
		const conf = domains.server(sft).sft.getConference('standup');
		const ids = new Set(conf?.participants.flatMap((p) => p.producers.map((pr) => pr.id)) ?? []);
		return Object.values(producers).every((id) => ids.has(id));
	};
	for (const sft of ['a.test', 'b.test', 'c.test']) await until(offered(sft), 8000, `${sft} to offer all three streams`);
	assert.ok(Array.isArray(bobJoin['participants']));
	for (const [listener, others] of [
		[alice, ['bob', 'carol']],
		[bob, ['alice', 'carol']],
		[carol, ['alice', 'bob']],
	] as const) {
		for (const other of others) await listener.consume(producers[other]!);
	}
	await until(
		() =>
			[alice, bob, carol].every((l, i) =>
				Object.entries(producers)
					.filter((_, j) => j !== i)
					.every(([, id]) => l.receivedFrom(id) >= 25),
			),
		10000,
		'every client to receive 25 packets from each other client',
	);
	// Star: c.test's stream reaches b.test through the anchor; each SFT has one link per partner.
	assert.is(domains.server('a.test').hub!.linksOf('standup').length, 2, 'anchor has a link to b.test and c.test');
	assert.is(domains.server('b.test').hub!.linksOf('standup').length, 1, 'b.test only links to the anchor');
	const bobSeesCarol = domains
		.server('b.test')
		.sft.getConference('standup')!
		.participants.find((p) => p.userId === 'carol');
	assert.is(bobSeesCarol?.origin, 'a.test', "carol's participant reaches b.test through the anchor");
});

const lastLinks = (peer: PlainSignallingPeer) => peer.signalling.received('federationLinks').at(-1)?.links;
const linkStates = (peer: PlainSignallingPeer) => JSON.stringify(lastLinks(peer)?.map(({ domain, up }) => ({ domain, up })));

test('participants carry their home domain, also across the star (c.test reaches b.test through a.test)', async () => {
	const domainOf = (join: Record<string, unknown>, user: string) =>
		(join['participants'] as { userId: string; domain?: string }[]).find((p) => p.userId === user)?.domain;
	assert.is(alice.joinData['domain'], 'a.test', 'the join reply names the own home domain');
	assert.is(bob.joinData['domain'], 'b.test');
	assert.is(domainOf(bob.joinData, 'alice'), 'a.test');
	assert.is(domainOf(carol.joinData, 'alice'), 'a.test');
	// Bob's participant may reach c.test just before or just after carol's join reply.
	const bobAtCarol =
		domainOf(carol.joinData, 'bob') ?? carol.signalling.received('participantJoined').find((p) => p.userId === 'bob')?.domain;
	assert.is(bobAtCarol, 'b.test', "bob's participant reaches c.test through the anchor and keeps b.test");
	const joinedAtBob = bob.signalling.received('participantJoined').find((p) => p.userId === 'carol');
	assert.is(joinedAtBob?.domain, 'c.test', 'participantJoined carries the home domain');
	const joinedAtAlice = alice.signalling.received('participantJoined').find((p) => p.userId === 'bob');
	assert.is(joinedAtAlice?.domain, 'b.test');
});

test('federationLinks: each client is told its conference links after join and on every change', async () => {
	await until(
		() =>
			linkStates(alice) ===
			JSON.stringify([
				{ domain: 'b.test', up: true },
				{ domain: 'c.test', up: true },
			]),
		5000,
		'alice: links to b.test and c.test up',
	);
	for (const peer of [bob, carol]) {
		await until(
			() => linkStates(peer) === JSON.stringify([{ domain: 'a.test', up: true }]),
			5000,
			'a federated client: the link to the anchor up',
		);
	}
	// RTCP measures the round trip once media crosses a link; on loopback it is often 0 ms, which LinkMetrics leaves out.
	for (const link of [...(lastLinks(alice) ?? []), ...(lastLinks(bob) ?? [])]) {
		if (link.rttMs !== undefined) assert.ok(link.rttMs >= 0 && link.rttMs < 100, `loopback RTT ${link.rttMs} ms`);
	}
});

test('a producer paused in one domain is paused for the clients of another', async () => {
	const paused = bob.signalling.waitFor('producerPaused', (e) => e.producerId === producers['alice'], 5000);
	await alice.signalling.request('pause', { producerId: producers['alice']! });
	await paused;
	const mirrored = domains
		.server('b.test')
		.sft.getConference('standup')!
		.participants.flatMap((p) => p.producers)
		.find((p) => p.id === producers['alice']);
	assert.ok(mirrored?.paused, "b.test's copy of alice's stream is paused");
	const resumed = bob.signalling.waitFor('producerResumed', (e) => e.producerId === producers['alice'], 5000);
	await alice.signalling.request('resume', { producerId: producers['alice']! });
	await resumed;
	const before = bob.receivedFrom(producers['alice']!);
	await until(() => bob.receivedFrom(producers['alice']!) > before + 10, 5000, "alice's audio to flow to bob again");
});

test('the anchor counts each relayed stream once on its link', async () => {
	const link = domains.link('a.test', 'standup', 'b.test');
	// To b.test: alice's and carol's streams, never bob's own.
	assert.equal(link.relay.sentProducerIds.sort(), [producers['alice']!, producers['carol']!].sort());
	assert.equal(
		link.relay.receivedProducers.map((p) => p.id),
		[producers['bob']!],
	);
});

async function metricValue(domain: string, name: string, labels: string): Promise<number> {
	await domains.server(domain).linkMetrics!.poll();
	const text = await domains.server(domain).registry.metrics();
	const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels));
	return line ? Number(line.split(' ').pop()) : 0;
}

test('link metrics count the relayed media per partner and direction', async () => {
	const txAudio = await metricValue('a.test', 'sft_federation_link_rtp_bytes_total', 'remote_domain="b.test",direction="tx",kind="audio"');
	const rxAudio = await metricValue('a.test', 'sft_federation_link_rtp_bytes_total', 'remote_domain="b.test",direction="rx",kind="audio"');
	assert.ok(txAudio > 0, `anchor → b.test audio bytes counted (${txAudio})`);
	assert.ok(rxAudio > 0, `b.test → anchor audio bytes counted (${rxAudio})`);
	assert.is(
		await metricValue('a.test', 'sft_federation_link_relayed_streams', 'remote_domain="b.test",direction="tx"'),
		2,
		'two streams go to b.test',
	);
	assert.is(await metricValue('a.test', 'sft_federation_link_up', 'remote_domain="b.test"'), 1);
	await new Promise((r) => setTimeout(r, 600));
	assert.ok(
		(await metricValue('a.test', 'sft_federation_link_rtp_bytes_total', 'remote_domain="b.test",direction="rx",kind="audio"')) > rxAudio,
		'the counter moves while media flows',
	);
	const exposition = await domains.server('a.test').registry.metrics();
	const promtool = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
	assert.is(promtool.status, 0, `promtool check metrics: ${promtool.stdout}${promtool.stderr}`);
});

test("the last local participant leaving closes that SFT's share; others continue", async () => {
	bob.close();
	await until(() => domains.server('b.test').sft.getConference('standup') === undefined, 5000, 'b.test to drop the conference');
	await until(
		() =>
			!domains
				.server('a.test')
				.sft.getConference('standup')!
				.participants.some((p) => p.userId === 'bob'),
		5000,
		'the anchor to remove bob',
	);
	assert.is(domains.server('a.test').hub!.linksOf('standup').length, 1, 'only the c.test link remains');
	await until(
		() => linkStates(alice) === JSON.stringify([{ domain: 'c.test', up: true }]),
		5000,
		'alice: a closed link is no longer listed',
	);
	const before = alice.receivedFrom(producers['carol']!);
	await new Promise((r) => setTimeout(r, 600));
	assert.ok(alice.receivedFrom(producers['carol']!) > before + 15, 'alice still hears carol');
	const stopped = await metricValue('a.test', 'sft_federation_link_bytes_total', 'remote_domain="b.test",direction="rx"');
	await new Promise((r) => setTimeout(r, 600));
	assert.is(
		await metricValue('a.test', 'sft_federation_link_bytes_total', 'remote_domain="b.test",direction="rx"'),
		stopped,
		'the counter stops when media stops',
	);
	assert.is(await metricValue('a.test', 'sft_federation_link_relayed_streams', 'remote_domain="b.test",direction="tx"'), 0);
});

test('after the link drops (partner taken off and put back on the allow list) the federated SFT reconnects and media flows again', async () => {
	const a = domains.server('a.test').federation!;
	const config = domains.configs.get('a.test')!.federation;
	assert.ok(config.enabled);
	await a.reload({ ...config, allowList: ['b.test', 'd.test'] });
	await until(() => domains.server('a.test').hub!.linksOf('standup').length === 0, 5000, 'the anchor to drop the c.test link');
	await until(
		() => linkStates(alice) === JSON.stringify([{ domain: 'c.test', up: false }]),
		5000,
		'alice: the lost link to c.test is down',
	);
	await until(
		() => linkStates(carol) === JSON.stringify([{ domain: 'a.test', up: false }]),
		5000,
		'carol: the lost link to the anchor is down',
	);
	await until(
		() =>
			!domains
				.server('a.test')
				.sft.getConference('standup')!
				.participants.some((p) => p.userId === 'carol'),
		5000,
		'carol to leave the anchor',
	);
	await a.reload({ ...config, allowList: ['b.test', 'c.test', 'd.test'] });
	await until(
		() =>
			domains
				.server('a.test')
				.sft.getConference('standup')!
				.participants.some((p) => p.userId === 'carol'),
		10000,
		'c.test to re-attach',
	);
	await until(() => linkStates(alice) === JSON.stringify([{ domain: 'c.test', up: true }]), 5000, 'alice: the link to c.test is up again');
	await until(
		() => linkStates(carol) === JSON.stringify([{ domain: 'a.test', up: true }]),
		5000,
		'carol: the link to the anchor is up again',
	);
	// The anchor re-created carol's stream under the same id, so alice's consumer of it was closed: consume again.
	await until(
		() =>
			domains
				.server('a.test')
				.sft.getConference('standup')!
				.participants.some((p) => p.producers.some((pr) => pr.id === producers['carol'])),
		5000,
		"carol's stream to be back",
	);
	await alice.consume(producers['carol']!);
	const before = alice.receivedFrom(producers['carol']!);
	await until(() => alice.receivedFrom(producers['carol']!) > before + 20, 5000, 'media from carol to flow again');
});

test('two domains starting the same conference converge on the earlier one as anchor', async () => {
	const x = await peerAt('a.test');
	const xJoin = await x.join({ token: domains.token('xavier', 'race', 'start'), conferenceId: 'race' });
	await new Promise((r) => setTimeout(r, 20));
	const y = await peerAt('b.test');
	const yJoin = await y.join({ token: domains.token('yuki', 'race', 'start'), conferenceId: 'race' });
	assert.is((yJoin['descriptor'] as { anchorDomain: string }).anchorDomain, 'b.test', 'b.test anchors its own start at first');
	const yProducer = await y.sendAudio(5005);
	// Each side's clients now receive the other's descriptor out of band.
	const xAgain = await peerAt('a.test');
	const kept = await xAgain.join({
		token: domains.token('xavier2', 'race', 'join'),
		conferenceId: 'race',
		descriptor: yJoin['descriptor'],
	});
	assert.is((kept['descriptor'] as { anchorDomain: string }).anchorDomain, 'a.test', 'a.test started first and stays anchor');
	const z = await peerAt('b.test');
	const rehomed = await z.join({ token: domains.token('zoe', 'race', 'join'), conferenceId: 'race', descriptor: xJoin['descriptor'] });
	assert.is((rehomed['descriptor'] as { anchorDomain: string }).anchorDomain, 'a.test', 'b.test re-homed under a.test');
	assert.is(domains.server('b.test').sft.getConference('race')!.role, 'federated');
	assert.is(domains.server('a.test').sft.getConference('race')!.role, 'anchor');
	// yuki kept her connection to b.test; her stream reaches a.test's client.
	await until(
		() =>
			domains
				.server('a.test')
				.sft.getConference('race')!
				.participants.some((p) => p.producers.some((pr) => pr.id === yProducer)),
		5000,
		"yuki's stream at the anchor",
	);
	await x.consume(yProducer);
	await until(() => x.receivedFrom(yProducer) > 20, 5000, 'xavier to hear yuki');
});

test('key-frame requests cross the link, rate-limited: three remote viewers do not cost three key frames', async () => {
	const anchorServer = domains.server('a.test');
	const conference = await anchorServer.sft.getOrCreateConference('keyframes');
	const sender = await PlainRtpClient.join({
		conference,
		rtpCapabilities: anchorServer.sft.rtpCapabilities,
		name: 'sender',
		video: { packetsPerSecond: 60, framesPerSecond: 30, keyFrameIntervalMs: 60_000 },
		receive: false,
	});
	sender.startSending();
	try {
		const remote = domains.server('b.test');
		const share = await remote.hub!.joinWithDescriptor(anchorServer.hub!.descriptorFor(conference));
		await new Promise((r) => setTimeout(r, 1200));
		const before = sender.keyFrameRequestsReceived;
		const viewers = await Promise.all(
			['v1', 'v2', 'v3'].map((name) => PlainRtpClient.join({ conference: share, rtpCapabilities: remote.sft.rtpCapabilities, name })),
		);
		try {
			await until(
				() => viewers.every((v) => v.remoteStreams.some((st) => st.counter.unique > 10)),
				8000,
				'every remote viewer to receive video',
			);
			const requests = sender.keyFrameRequestsReceived - before;
			assert.ok(requests >= 1, `a viewer's key-frame request reached the sender across the link (${requests})`);
			assert.ok(requests <= 2, `three viewers joining at once cost ${requests} key-frame requests, want at most 2`);
		} finally {
			await Promise.all(viewers.map((v) => v.stop()));
		}
	} finally {
		await sender.stop();
	}
});

test('a domain not on the anchor allow list cannot join even with a valid descriptor', async () => {
	// a.test allows d.test at start; take it off and reload, as an operator would.
	const a = domains.server('a.test').federation!;
	const config = domains.configs.get('a.test')!.federation;
	assert.ok(config.enabled);
	await a.reload({ ...config, allowList: ['b.test', 'c.test'] });
	const dave = await peerAt('d.test');
	let code = '';
	try {
		await dave.join({ token: domains.token('dave', 'standup', 'join'), conferenceId: 'standup', descriptor });
	} catch (error) {
		code = (error as { code?: string }).code ?? String(error);
	}
	assert.is(code, 'federation_unavailable');
	assert.not.ok(
		domains
			.server('a.test')
			.sft.getConference('standup')!
			.participants.some((p) => p.userId === 'dave'),
	);
});

test('a federated SFT that dies is cleaned up by the anchor within 5 s', async () => {
	const started = Date.now();
	await domains.server('c.test').federation!.close();
	await until(
		() =>
			!domains
				.server('a.test')
				.sft.getConference('standup')!
				.participants.some((p) => p.userId === 'carol'),
		5000,
		'anchor to drop carol',
	);
	assert.ok(Date.now() - started < 5000);
	assert.ok(domains.server('a.test').sft.getConference('standup'), 'the anchor keeps the conference for alice');
});

test.run();
