// Simulcast on a real mediasoup worker with real UDP RTP from the load
// clients: the layer a viewer gets follows its tile size and switches on key
// frames; under a downlink bottleneck (transport-cc feedback) the layers are
// handed out screen share first, then the pinned tile, thumbnails last; and
// senders are told which encodings anyone needs.
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Conference } from '../sft/Conference.ts';
import type { Participant } from '../sft/Participant.ts';
import type { Sft } from '../sft/Sft.ts';
import type { Size } from '../sft/simulcast.ts';
import {
	PlainRtpClient,
	type PlainRtpClientOptions,
	type RemoteStream,
	simulcastProfiles,
	type VideoLayerSender,
	type VideoProfile,
	withBandwidthFeedback,
} from './support/plainRtpClient.ts';
import { exitSoon, sleep, startTestSft, waitFor } from './support/testSft.ts';

const THUMBNAIL: Size = { width: 320, height: 180 };
const MEDIUM: Size = { width: 640, height: 360 };
const LARGE: Size = { width: 1280, height: 720 };
/** Share of a layer's packets a viewer must get in a window on loopback. */
const FLOWING_SHARE = 0.8;

let sft: Sft;
const clients: PlainRtpClient[] = [];

test.before(async () => {
	sft = await startTestSft();
});

test.after(async () => {
	await Promise.allSettled(clients.map((c) => c.stop()));
	sft?.close();
	exitSoon();
});

async function join(conference: Conference, name: string, options: Partial<PlainRtpClientOptions> = {}): Promise<PlainRtpClient> {
	// Without transport-cc or REMB nothing estimates bandwidth: consumers follow their preferred layers.
	const rtpCapabilities = withBandwidthFeedback(sft.rtpCapabilities, 'none');
	const client = await PlainRtpClient.join({ conference, rtpCapabilities, name, ...options });
	clients.push(client);
	return client;
}

function camera(client: PlainRtpClient): { id: string; layers: readonly VideoLayerSender[] } {
	if (!client.video) throw new Error(`${client.participant.displayName} sends no video`);
	return { id: client.video.producer.id, layers: client.video.senders };
}

function remote(viewer: PlainRtpClient, producerId: string): RemoteStream {
	const stream = viewer.remote(producerId);
	if (!stream) throw new Error(`${viewer.participant.displayName} does not consume ${producerId}`);
	return stream;
}

/** Packets a viewer got of each layer of a sender during `ms`, against what each layer sent meanwhile. */
async function layerWindow(viewer: PlainRtpClient, sender: PlainRtpClient, ms = 1500): Promise<{ got: number; sent: number }[]> {
	const { id, layers } = camera(sender);
	const from = layers.map((l) => l.sent);
	await sleep(ms);
	const to = layers.map((l) => l.sent);
	await sleep(300); // the window's last packets land
	const stream = remote(viewer, id);
	return layers.map((_, i) => ({
		got: stream.layers[i]?.seqs.countRange(from[i] ?? 0, to[i] ?? 0) ?? 0,
		sent: (to[i] ?? 0) - (from[i] ?? 0),
	}));
}

/** The viewer receives layer `expected` of the sender, fully, and nothing of the others. */
async function assertReceivesOnly(viewer: PlainRtpClient, sender: PlainRtpClient, expected: number, label: string): Promise<void> {
	const window = await layerWindow(viewer, sender);
	for (const [layer, { got, sent }] of window.entries()) {
		if (layer === expected) {
			assert.ok(sent > 0 && got >= FLOWING_SHARE * sent, `${label}: layer ${layer} should flow, got ${got}/${sent}`);
		} else {
			assert.is(got, 0, `${label}: layer ${layer} should not arrive (got ${got}/${sent})`);
		}
	}
	assert.is(remote(viewer, camera(sender).id).consumer.currentLayers?.spatialLayer, expected, `${label}: consumer.currentLayers`);
}

async function viewOne(viewer: PlainRtpClient, producerId: string, size: Size, pinned = false): Promise<void> {
	await viewer.participant.setView([{ producerId, size, pinned }]);
}

test('layer by tile size: 320×180 gets the low layer, 640×360 the middle, 1280×720 the top; setView switches on a key frame of the new layer', async () => {
	const conference = await sft.getOrCreateConference(`layers-${randomUUID()}`);
	const sender = await join(conference, 'sender', { video: { profile: simulcastProfiles.chrome }, receive: false });
	const small = await join(conference, 'small');
	const medium = await join(conference, 'medium');
	const large = await join(conference, 'large');
	const { id } = camera(sender);
	await Promise.all([small, medium, large].map((v) => v.settled()));
	await viewOne(small, id, THUMBNAIL);
	await viewOne(medium, id, MEDIUM);
	await viewOne(large, id, LARGE);
	sender.startSending();
	await waitFor(() => [small, medium, large].every((v) => remote(v, id).currentLayer >= 0), 'every viewer to receive video', 5000);

	await assertReceivesOnly(small, sender, 0, '320×180 tile');
	await assertReceivesOnly(medium, sender, 1, '640×360 tile');
	await assertReceivesOnly(large, sender, 2, '1280×720 tile');

	// Swap the two outer viewers' tile sizes: both switch, each on a key frame of its new layer.
	const before = [small, large].map((v) => remote(v, id).layerSwitches);
	await viewOne(small, id, LARGE);
	await viewOne(large, id, THUMBNAIL);
	await waitFor(() => remote(small, id).currentLayer === 2 && remote(large, id).currentLayer === 0, 'both viewers to switch', 5000);
	await assertReceivesOnly(small, sender, 2, 'thumbnail enlarged to 1280×720');
	await assertReceivesOnly(large, sender, 0, 'large tile shrunk to 320×180');
	for (const [i, viewer] of [small, large].entries()) {
		const stream = remote(viewer, id);
		assert.is(stream.layerSwitches, (before[i] ?? 0) + 1, `${viewer.participant.displayName}: one switch`);
		assert.is(
			stream.layerSwitchesOnKeyFrame,
			stream.layerSwitches,
			`${viewer.participant.displayName}: every switch starts on a key frame`,
		);
	}
	// The sender made key frames for the switches on those layers only, as a PLI per layer asks.
	assert.ok(sender.keyFrameRequestsReceived >= 2, `key frame requests: ${sender.keyFrameRequestsReceived}`);
	await Promise.all([sender, small, medium, large].map((c) => c.stop()));
});

/** A shared screen: one full-resolution layer, three temporal layers, 15 fps. */
const screenProfile: VideoProfile = {
	...simulcastProfiles.chrome,
	name: 'screen',
	layers: [{ width: 1920, height: 1080, bitrate: 1_000_000, framesPerSecond: 15, temporalLayers: 3 }],
};

/** Received bits/s of each producer over `ms`. */
async function receivedRates(viewer: PlainRtpClient, producerIds: readonly string[], ms: number): Promise<number[]> {
	const bytes = () => producerIds.map((id) => remote(viewer, id).layers.reduce((n, l) => n + l.bytes, 0));
	const from = bytes();
	await sleep(ms);
	const to = bytes();
	return to.map((b, i) => ((b - (from[i] ?? 0)) * 8 * 1000) / ms);
}

/** Orders (spatial, temporal) layer pairs; no layer at all is lowest. */
function layerRank(stream: RemoteStream): number {
	const layers = stream.consumer.currentLayers;
	return layers ? layers.spatialLayer * 10 + (layers.temporalLayer ?? 0) : -1;
}

test('under a downlink bottleneck the screen share keeps its layer, the pinned tile comes next, thumbnails step down first', async () => {
	const conference = await sft.getOrCreateConference(`priority-${randomUUID()}`);
	const screen = await join(conference, 'screen', { video: { profile: screenProfile, source: 'screen' }, receive: false });
	const pinned = await join(conference, 'pinned', { video: { profile: simulcastProfiles.chrome }, receive: false });
	const large = await join(conference, 'large', { video: { profile: simulcastProfiles.chrome }, receive: false });
	const thumbnail = await join(conference, 'thumbnail', { video: { profile: simulcastProfiles.chrome }, receive: false });
	const senders = [screen, pinned, large, thumbnail];
	for (const s of senders) s.startSending();
	// Preferred: screen 1 Mbit/s, pinned 720p 2.5, large 360p 0.7, thumbnail 180p 0.2 (4.4 Mbit/s); the link carries 2.5.
	const viewer = await join(conference, 'viewer', {
		rtpCapabilities: sft.rtpCapabilities,
		transportFeedback: { bottleneckBitrate: 2_500_000 },
	});
	await viewer.settled();
	const ids = senders.map((s) => camera(s).id);
	const [screenId = '', pinnedId = '', largeId = '', thumbnailId = ''] = ids;
	await viewer.participant.setView([
		{ producerId: screenId },
		{ producerId: pinnedId, size: LARGE, pinned: true },
		{ producerId: largeId, size: MEDIUM },
		{ producerId: thumbnailId, size: THUMBNAIL },
	]);
	const streams = ids.map((id) => remote(viewer, id));
	const [screenStream, pinnedStream, largeStream, thumbnailStream] = streams as [RemoteStream, RemoteStream, RemoteStream, RemoteStream];
	await waitFor(() => streams.every((s) => s.currentLayer >= 0), 'every stream to reach the viewer', 5000);
	await sleep(2500); // the estimate settles below the bottleneck

	const [screenRate = 0, pinnedRate = 0, largeRate = 0, thumbnailRate = 0] = await receivedRates(viewer, ids, 2000);
	const rates = `screen ${kbps(screenRate)}, pinned ${kbps(pinnedRate)}, large ${kbps(largeRate)}, thumbnail ${kbps(thumbnailRate)}`;
	assert.ok(screenRate > 0.85 * 1_000_000, `the screen share keeps its full layer: ${rates}`);
	assert.ok(pinnedRate > largeRate && pinnedRate > thumbnailRate, `the pinned tile gets more than the others: ${rates}`);
	assert.ok(thumbnailRate < 0.75 * 200_000, `the thumbnail is stepped down from its 200 kbit/s layer: ${rates}`);
	assert.ok(screenRate + pinnedRate + largeRate + thumbnailRate < 2_500_000 * 1.1, `the viewer gets what its link carries: ${rates}`);
	assert.equal(screenStream.consumer.currentLayers, { spatialLayer: 0, temporalLayer: 2 }, 'screen share at its preferred layer');
	assert.ok(layerRank(pinnedStream) >= layerRank(largeStream), 'pinned tile at or above the large tile');
	assert.ok(layerRank(largeStream) >= layerRank(thumbnailStream), 'large tile at or above the thumbnail');
	assert.ok(
		layerRank(thumbnailStream) < 2,
		`thumbnail below its preferred 0:2 (at ${JSON.stringify(thumbnailStream.consumer.currentLayers)})`,
	);

	// The link shrinks to about what the screen share alone needs plus the cameras' lowest layers.
	viewer.setBottleneck(1_700_000);
	await sleep(3000);
	const [screenAfter = 0, ...camerasAfter] = await receivedRates(viewer, ids, 2000);
	assert.ok(screenAfter > 0.85 * 1_000_000, `the screen share still keeps its layer: screen ${kbps(screenAfter)}`);
	assert.ok(
		camerasAfter.every((r) => r < 0.75 * 700_000),
		`every camera stepped down to its lowest layer: ${camerasAfter.map(kbps).join(', ')}`,
	);
	assert.equal(screenStream.consumer.currentLayers, { spatialLayer: 0, temporalLayer: 2 }, 'screen share still at its preferred layer');
	for (const s of streams) assert.is(s.layerSwitchesOnKeyFrame, s.layerSwitches, 'every switch starts on a key frame');
	await Promise.all([...senders, viewer].map((c) => c.stop()));
});

function kbps(bitsPerSecond: number): string {
	return `${Math.round(bitsPerSecond / 1000)} kbit/s`;
}

/** Resolves with the next `encodingsNeeded` for one producer, and how long it took. */
function nextHint(conference: Conference, producerId: string, timeoutMs: number): Promise<{ active: boolean[]; afterMs: number }> {
	const started = Date.now();
	return new Promise((resolve, reject) => {
		const timer = setTimeout(() => {
			off();
			reject(new Error(`no encodingsNeeded for ${producerId} within ${timeoutMs} ms`));
		}, timeoutMs);
		const off = conference.subscribe('encodingsNeeded', (_owner: Participant, id: string, active: boolean[]) => {
			if (id !== producerId) return;
			clearTimeout(timer);
			off();
			resolve({ active, afterMs: Date.now() - started });
		});
	});
}

test('encodingsNeeded: top layer off 2 s after nobody needs it, all off when nobody views, all on at once when someone pins it', async () => {
	const conference = await sft.getOrCreateConference(`hints-${randomUUID()}`);
	const sender = await join(conference, 'sender', {
		video: { profile: simulcastProfiles.wire, followEncodingHints: true },
		receive: false,
	});
	const viewer = await join(conference, 'viewer');
	await viewer.settled();
	const { id, layers } = camera(sender);
	const [low, high] = layers as [VideoLayerSender, VideoLayerSender];
	sender.startSending();

	let hint = nextHint(conference, id, 5000);
	await viewOne(viewer, id, THUMBNAIL);
	let got = await hint;
	assert.equal(got.active, [true, false], 'a thumbnail needs only the low layer');
	assert.ok(got.afterMs >= 1800, `turned off only after the hold-down (${got.afterMs} ms)`);
	assert.not.ok(high.active, 'the sender stopped encoding its top layer');
	await sleep(100); // the frame being paced out when the hint came
	const highSent = high.sent;
	await sleep(300);
	assert.is(high.sent, highSent, 'no top-layer packets while it is off');
	await assertReceivesOnly(viewer, sender, 0, 'thumbnail while the top layer is off');

	hint = nextHint(conference, id, 5000);
	await viewer.participant.setView([]);
	got = await hint;
	assert.equal(got.active, [false, false], 'nobody views it: every encoding off');
	assert.ok(got.afterMs >= 1800, `turned off only after the hold-down (${got.afterMs} ms)`);
	assert.not.ok(low.active || high.active, 'the sender stopped encoding');

	hint = nextHint(conference, id, 1000);
	const pinner = await join(conference, 'pinner');
	await pinner.settled();
	await viewOne(pinner, id, LARGE, true);
	got = await hint;
	assert.equal(got.active, [true, true], 'a pinned large tile needs every layer');
	assert.ok(got.afterMs < 500, `turned on at once (${got.afterMs} ms)`);
	await waitFor(() => remote(pinner, id).currentLayer === 1, 'the pinned viewer to get the top layer', 5000);
	const stream = remote(pinner, id);
	assert.is(stream.layerSwitchesOnKeyFrame, stream.layerSwitches, 'restarted layers start with key frames');
	await Promise.all([sender, viewer, pinner].map((c) => c.stop()));
});

test.run();
