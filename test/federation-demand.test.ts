// Demand relay between real SFTs (in-process, real workers, real SRTP over
// UDP, raw RTP clients): only what viewers behind a link select crosses it,
// a newly selected stream arrives fast, only the loudest speakers cross,
// and a capped link sheds thumbnails first. A full-mode pair relays everything.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PlainRtpClient } from '../bench/rtp/plainRtpClient.ts';
import { withBandwidthFeedback } from '../bench/rtp/rtpCapabilities.ts';
import { simulcastProfiles } from '../bench/rtp/videoProfiles.ts';
import type { Conference } from '../sft/Conference.ts';
import { FederatedDomains } from './support/federatedDomains.ts';
import { crossedPackets, sentPackets } from './support/linkCounters.ts';

const test = suite('demand relay');
let domains: FederatedDomains;
const clients: PlainRtpClient[] = [];
/** One video ≈ 0.9 Mbit/s (100 packets/s of 1100 bytes). */
const VIDEO = { packetsPerSecond: 100, payloadBytes: 1100, framesPerSecond: 25, keyFrameIntervalMs: 0 };

test.before(async () => {
	domains = await FederatedDomains.start([
		{
			domain: 'a.test',
			allow: ['b.test', 'c.test'],
			federation: { relayMode: 'demand', partnerRelay: { 'c.test': { linkMaxBitrate: 2_300_000 } } },
			plainPorts: 30,
		},
		{ domain: 'b.test', allow: ['a.test'], federation: { relayMode: 'demand' } },
		// c.test prefers full mode: the anchor's demand setting wins for the link.
		{ domain: 'c.test', allow: ['a.test'] },
		{ domain: 'e.test', allow: ['f.test'] },
		{ domain: 'f.test', allow: ['e.test'] },
	]);
});

test.after(async () => {
	for (const client of clients) await client.stop();
	await domains?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!check()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await sleep(5);
	}
}

async function join(conference: Conference, domain: string, name: string, media: { video?: boolean; level?: number; receive?: boolean }) {
	const client = await PlainRtpClient.join({
		conference,
		rtpCapabilities: domains.server(domain).sft.rtpCapabilities,
		name,
		receive: media.receive ?? false,
		...(media.video ? { video: VIDEO } : {}),
		...(media.level !== undefined ? { audio: { levelDbov: media.level } } : {}),
	});
	clients.push(client);
	client.startSending();
	return client;
}

/**
 * A `wire` simulcast sender at a.test (following sender hints) and a viewer
 * at b.test in a new conference; the viewer announces transport-cc only
 * when given a simulated downlink.
 */
async function simulcastAcrossLink(conferenceId: string, downlink?: { bottleneckBitrate: number }) {
	const conference = await domains.server('a.test').sft.getOrCreateConference(conferenceId);
	const descriptor = domains.server('a.test').hub!.descriptorFor(conference);
	const atB = await domains.server('b.test').hub!.joinWithDescriptor(descriptor);
	const sender = await PlainRtpClient.join({
		conference,
		rtpCapabilities: withBandwidthFeedback(domains.server('a.test').sft.rtpCapabilities, 'none'),
		name: 'wire-sender',
		video: { profile: simulcastProfiles.wire, followEncodingHints: true },
		receive: false,
	});
	clients.push(sender);
	sender.startSending();
	const bRtp = domains.server('b.test').sft.rtpCapabilities;
	const viewer = await PlainRtpClient.join({
		conference: atB,
		rtpCapabilities: downlink ? bRtp : withBandwidthFeedback(bRtp, 'none'),
		name: 'remote-viewer',
		receive: true,
		...(downlink ? { transportFeedback: downlink } : {}),
	});
	clients.push(viewer);
	const id = sender.video!.producer.id;
	await until(() => viewer.remote(id) !== undefined, 8000, 'the remote viewer to consume the simulcast video');
	return { sender, viewer, id };
}

let anchor: Conference;
let atB: Conference;
let v1: PlainRtpClient;
let v2: PlainRtpClient;
let bob: PlainRtpClient;

test('a stream nobody behind the link views does not cross it', async () => {
	anchor = await domains.server('a.test').sft.getOrCreateConference('demand');
	const descriptor = domains.server('a.test').hub?.descriptorFor(anchor);
	if (!descriptor) throw new Error('no hub');
	atB = await domains.server('b.test').hub!.joinWithDescriptor(descriptor);
	v1 = await join(anchor, 'a.test', 'v1', { video: true });
	v2 = await join(anchor, 'a.test', 'v2', { video: true });
	bob = await join(atB, 'b.test', 'bob', { receive: true });
	const id1 = v1.video!.producer.id;
	const id2 = v2.video!.producer.id;
	await until(() => bob.remote(id1) !== undefined && bob.remote(id2) !== undefined, 8000, 'bob to consume both relayed videos');
	await bob.participant.setView([id1]);
	await until(() => (bob.remote(id1)?.counter.packets ?? 0) > 50, 8000, 'v1 to reach bob');
	const link = domains.link('a.test', 'demand', 'b.test');
	assert.is(link.relay.mode, 'demand');
	await sleep(1000);
	assert.is(await crossedPackets(link, id2), 0, 'v2 never crossed to b.test');
	assert.is(bob.remote(id2)?.counter.packets ?? 0, 0, 'bob got nothing of v2');
	assert.ok((await crossedPackets(link, id1)) > 100, 'v1 crosses');
	assert.is(link.demand?.stats.heldBack, 1, 'one video held back by demand');
});

test('selecting a stream makes it cross, and its first packet (a key frame) arrives within 500 ms', async () => {
	const ids = [v1.video!.producer.id, v2.video!.producer.id];
	const delays: number[] = [];
	for (let i = 0; i < 6; i++) {
		const next = ids[(i + 1) % 2]!;
		const before = bob.remote(next)?.counter.packets ?? 0;
		const started = performance.now();
		await bob.participant.setView([next]);
		await until(() => (bob.remote(next)?.counter.packets ?? 0) > before, 3000, `stream ${next} to reach bob after selecting it`);
		delays.push(performance.now() - started);
		// Let the previous key frame request age past the sender's rate limit.
		await sleep(1200);
	}
	delays.sort((a, b) => a - b);
	const median = delays[Math.floor(delays.length / 2)] ?? 0;
	console.log(`# view switch to a stream not crossing: first packet after ${delays.map((d) => Math.round(d)).join(', ')} ms`);
	assert.ok(median < 500, `median first packet ${Math.round(median)} ms < 500 ms`);
	const stats = domains.link('b.test', 'demand', 'a.test').demand?.stats;
	assert.ok((stats?.firstFrames ?? 0) >= 3, 'the receiving SFT timed the first key frames of the layers it asked for');
	assert.ok(domains.link('a.test', 'demand', 'b.test').demand!.stats.switches >= 6, 'the sending SFT counted demand-driven switches');
});

test('only the speakers the loudest-N rule could make audible cross the link', async () => {
	// Seven speakers at a.test, distinct levels; b.test hears at most 5, so 6 cross.
	const speakers: PlainRtpClient[] = [];
	for (let i = 0; i < 7; i++) speakers.push(await join(anchor, 'a.test', `s${i}`, { level: 10 + i * 8 }));
	const link = domains.link('a.test', 'demand', 'b.test');
	// The observer reports the maxAudible + 1 loudest; the quietest is never ranked.
	await until(() => anchor.audioRanking.length >= 6, 5000, 'the anchor to rank the six loudest speakers');
	await until(() => link.demand?.stats.relayedAudio === 6, 5000, 'six speakers to cross');
	await sleep(1500);
	const loudestSix = new Set(anchor.audioRanking.slice(0, 6));
	for (const speaker of speakers) {
		const id = speaker.audio!.producer.id;
		const crossed = await crossedPackets(link, id);
		if (loudestSix.has(id)) assert.ok(crossed > 0, `${id} (among the six loudest) crosses`);
		else assert.is(crossed, 0, `the quietest speaker ${id} does not cross`);
	}
	await until(() => atB.audioRanking.length >= 6, 5000, 'b.test to rank the crossing speakers');
	assert.equal(atB.audioRanking.slice(0, 5), anchor.audioRanking.slice(0, 5), 'both sides rank the five loudest alike');
	// Three speakers at b.test louder than everyone at a.test: only three of a.test's can still be among the six loudest there.
	const loudAtB: PlainRtpClient[] = [];
	for (let i = 0; i < 3; i++) loudAtB.push(await join(atB, 'b.test', `loud${i}`, { level: 2 + i }));
	await until(() => link.demand?.stats.relayedAudio === 3, 8000, "a.test to relay only the three speakers b.test's loudest leave room for");
	for (const speaker of [...speakers, ...loudAtB]) await speaker.stop();
});

test('simulcast over a demand link: a thumbnail-only remote audience pulls only the low layer, a pin pulls the high one; unwatched layers are not encoded', async () => {
	const { sender, viewer, id } = await simulcastAcrossLink('layers');
	await viewer.participant.setView([{ producerId: id, size: { width: 320, height: 180 } }]);
	const link = domains.link('a.test', 'layers', 'b.test');
	const perLayer = () => Promise.all(link.relay.sentConsumers.filter((c) => c.producerId === id).map(sentPackets));
	// Each layer crosses once for about 1.6 s when the stream is first offered (sender reports for the far side); then only the needed one.
	await sleep(3000);
	const before = await perLayer();
	await sleep(1500);
	const after = await perLayer();
	assert.is(after.length, 2, 'one link consumer per layer');
	assert.ok((after[0] ?? 0) > (before[0] ?? 0) + 20, 'the low layer crosses for the thumbnail');
	assert.is(after[1], before[1], 'the high layer does not cross while only a thumbnail watches');
	const remote = viewer.remote(id)!;
	assert.is(remote.currentLayer, 0, 'the remote viewer receives the low layer');
	await until(() => sender.video!.senders[1]?.active === false, 5000, 'the sender to stop encoding the layer nobody in any domain watches');
	assert.ok(sender.video!.senders[0]?.active, 'the low layer stays encoded');

	await viewer.participant.setView([{ producerId: id, size: { width: 1280, height: 720 }, pinned: true }]);
	await until(
		() => sender.video!.senders[1]?.active === true,
		2000,
		'the sender to encode the high layer again once a remote viewer pins it',
	);
	await until(() => remote.currentLayer === 1, 3000, 'the pinned remote viewer to receive the high layer');
	const pinned = await perLayer();
	await sleep(1000);
	assert.ok(((await perLayer())[1] ?? 0) > (pinned[1] ?? 0) + 20, 'the high layer crosses for the pin');
	await sender.stop();
	await viewer.stop();
});

test('a remote viewer whose downlink fits no crossing layer gets the low layer pulled across, and lets it go once back at its layer', async () => {
	// transport-cc from the viewer: b.test's worker estimates its downlink (2 layers: about 0.4 and 1.1 Mbit/s).
	const { sender, viewer, id } = await simulcastAcrossLink('starved', { bottleneckBitrate: 5_000_000 });
	await viewer.participant.setView([{ producerId: id, size: { width: 1280, height: 720 }, pinned: true }]);
	const remote = viewer.remote(id)!;
	await until(() => remote.currentLayer === 1, 10_000, 'the pinned remote viewer to receive the high layer');
	const link = domains.link('a.test', 'starved', 'b.test');
	const crossing = () => new Set(link.relay.sentDemand().get(id)?.keys() ?? []);
	await until(() => crossing().size === 1 && crossing().has(1), 5000, 'only the high layer to be asked across');

	viewer.setBottleneck(700_000);
	const starvedAt = performance.now();
	await until(() => crossing().has(0), 10_000, 'the low layer to be pulled across for the starved viewer');
	await until(() => remote.currentLayer === 0, 5000, 'the starved viewer to receive the low layer');
	console.log(
		`# downlink below the crossing layer: the low layer reaches the viewer ${Math.round(performance.now() - starvedAt)} ms after the bottleneck`,
	);
	const flowing = remote.counter.packets;
	await sleep(1000);
	assert.ok(remote.counter.packets > flowing + 20, 'the starved viewer keeps receiving video');

	viewer.setBottleneck(5_000_000);
	await until(() => remote.currentLayer === 1, 25_000, 'the viewer to return to the high layer once its downlink recovers');
	await until(() => !crossing().has(0), 15_000, 'the low layer to stop crossing once the viewer holds its layer');
	await sender.stop();
	await viewer.stop();
});

test('a capped link sheds the thumbnail-only stream first and says so in its metrics', async () => {
	const conference = await domains.server('a.test').sft.getOrCreateConference('capped');
	const descriptor = domains.server('a.test').hub!.descriptorFor(conference);
	const atC = await domains.server('c.test').hub!.joinWithDescriptor(descriptor);
	const senders = [];
	for (const name of ['focus', 'large', 'thumb']) senders.push(await join(conference, 'a.test', name, { video: true }));
	const carol = await join(atC, 'c.test', 'carol', { receive: true });
	const [focus, large, thumb] = senders.map((s) => s.video!.producer.id) as [string, string, string];
	await until(() => [focus, large, thumb].every((id) => carol.remote(id)), 8000, 'carol to consume the three videos');
	await carol.participant.setView([
		{ producerId: focus, size: { width: 1280, height: 720 }, pinned: true },
		{ producerId: large, size: { width: 1280, height: 720 } },
		{ producerId: thumb, size: { width: 320, height: 180 } },
	]);
	const link = domains.link('a.test', 'capped', 'c.test');
	assert.is(link.relay.mode, 'demand', "the anchor's demand setting wins over c.test's full");
	// 3 × 0.9 Mbit/s do not fit in 2.3 Mbit/s: the thumbnail goes, the pinned and large tiles stay.
	await until(() => (link.demand?.stats.shedBitrate ?? 0) > 0, 8000, 'the link to shed under its cap');
	await sleep(1500);
	const counts = () => [focus, large, thumb].map((id) => carol.remote(id)?.counter.packets ?? 0);
	const before = counts();
	await sleep(1000);
	const gained = counts().map((n, i) => n - (before[i] ?? 0));
	console.log(`# capped link: packets in 1 s focus/large/thumbnail ${gained.join('/')}, shed ${link.demand?.stats.shedBitrate} bit/s`);
	assert.ok((gained[0] ?? 0) > 50 && (gained[1] ?? 0) > 50, 'the pinned and the large tile keep flowing');
	assert.is(gained[2], 0, 'the thumbnail-only stream is shed');
	await domains.server('a.test').linkMetrics!.poll();
	const text = await domains.server('a.test').registry.metrics();
	const shed = text.split('\n').find((l) => l.startsWith('sft_federation_link_shed_bitrate_bps{') && l.includes('remote_domain="c.test"'));
	assert.ok(shed && Number(shed.split(' ').pop()) > 0, `shed bitrate is visible in metrics: ${shed}`);
	for (const sender of senders) await sender.stop();
	await carol.stop();
});

test('a stream from one federated domain to another crosses both hops only while viewed (C → anchor → B)', async () => {
	const conference = await domains.server('a.test').sft.getOrCreateConference('star');
	const descriptor = domains.server('a.test').hub!.descriptorFor(conference);
	const starB = await domains.server('b.test').hub!.joinWithDescriptor(descriptor);
	const starC = await domains.server('c.test').hub!.joinWithDescriptor(descriptor);
	const sender = await join(starC, 'c.test', 'carl', { video: true });
	const viewer = await join(starB, 'b.test', 'bea', { receive: true });
	const id = sender.video!.producer.id;
	await until(() => viewer.remote(id) !== undefined, 8000, "bea at b.test to consume carl's video from c.test");
	await viewer.participant.setView([]);
	await sleep(1000);
	const cToA = domains.link('c.test', 'star', 'a.test');
	const aToB = domains.link('a.test', 'star', 'b.test');
	const before = { cToA: await crossedPackets(cToA, id), aToB: await crossedPackets(aToB, id) };
	await sleep(1000);
	assert.is(await crossedPackets(cToA, id), before.cToA, 'nothing crosses c.test → a.test while nobody views it');
	assert.is(await crossedPackets(aToB, id), before.aToB, 'nothing crosses a.test → b.test while nobody views it');
	const started = performance.now();
	await viewer.participant.setView([id]);
	await until(() => (viewer.remote(id)?.counter.packets ?? 0) > 0, 3000, "carl's video to reach bea over two hops");
	const firstPacketMs = performance.now() - started;
	console.log(`# two-hop view switch: first packet after ${Math.round(firstPacketMs)} ms`);
	assert.ok(firstPacketMs < 1000, `two hops, first packet ${Math.round(firstPacketMs)} ms < 1 s`);
	assert.ok((await crossedPackets(cToA, id)) > before.cToA, 'it crosses c.test → a.test once viewed at b.test');
	for (const client of [sender, viewer]) await client.stop();
});

test('full mode still relays every stream, viewed or not', async () => {
	const conference = await domains.server('e.test').sft.getOrCreateConference('full');
	const descriptor = domains.server('e.test').hub!.descriptorFor(conference);
	const atF = await domains.server('f.test').hub!.joinWithDescriptor(descriptor);
	const sender = await join(conference, 'e.test', 'sender', { video: true });
	const viewer = await join(atF, 'f.test', 'viewer', { receive: true });
	const id = sender.video!.producer.id;
	await until(() => viewer.remote(id) !== undefined, 8000, 'the viewer to consume the video');
	await viewer.participant.setView([]);
	await sleep(1500);
	const link = domains.link('e.test', 'full', 'f.test');
	assert.is(link.relay.mode, 'full');
	assert.ok((await crossedPackets(link, id)) > 100, 'an unviewed stream still crosses in full mode');
	assert.is(viewer.remote(id)?.counter.packets ?? 0, 0, 'the viewer itself receives nothing of it');
});

test.run();
