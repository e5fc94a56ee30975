// Simulcast with real Chromium (mediasoup-client 3.24): a publisher sends the
// SFT's recommended three VP8 layers from a 1280×720 fake camera, plus a copy
// of that camera published as a screen share (source 'screen': headless
// Chromium has no screen to capture; the SFT's policy depends on the source,
// not the pixels). Receive-only viewers in their own pages check what their
// decoders actually get (getStats frameWidth), per tile size, under a
// downlink cap, and that senders switch off layers nobody needs.
import { randomUUID } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type BrowserCaller, browserTestUnavailable, type CallInfo, type InboundVideo, pollUntil } from './support/browserCaller.ts';
import { BrowserTestBed } from './support/browserTestBed.ts';

const started = Date.now();
const unavailable = await browserTestUnavailable();
let bed: BrowserTestBed | undefined;
let setupError: Error | undefined;
const conferenceId = `simulcast-${randomUUID().slice(0, 8)}`;

test.before(async () => {
	if (unavailable) return;
	try {
		bed = await BrowserTestBed.start();
	} catch (error) {
		setupError = error as Error;
	}
});

test.after(async () => {
	await bed?.close();
	console.log(`# browser-simulcast total ${Date.now() - started} ms`);
	setTimeout(() => process.exit(process.exitCode ?? 0), 200).unref();
});

function ready(): BrowserTestBed {
	if (!bed) throw new Error(`browser test setup failed: ${setupError?.message ?? 'not started'}`);
	return bed;
}

/** The 720p layer starts only after the sender's bandwidth estimate has ramped up (~6 s here). */
const LAYER_TIMEOUT_MS = 45_000;
const HD = { width: 1280, height: 720 };
const THUMB = { width: 320, height: 180 };

interface Viewer {
	caller: BrowserCaller;
	info: CallInfo;
}

async function viewer(name: string): Promise<Viewer> {
	const b = ready();
	const caller = await b.openCaller(name);
	const info = await caller.start({
		url: b.sftUrl,
		token: b.token(name, conferenceId, 'join'),
		conferenceId,
		displayName: name,
		publish: false,
	});
	return { caller, info };
}

/** RTP packets the SFT has sent a participant, per consumed producer (its consumers' outbound-rtp counts). */
async function sentBySft(participantId: string): Promise<Map<string, number>> {
	const participant = ready().server.sft.getConference(conferenceId)?.getParticipant(participantId);
	const out = new Map<string, number>();
	for (const consumer of participant?.consumers ?? []) {
		const stats = (await consumer.getStats()) as { type: string; packetCount?: number }[];
		out.set(consumer.producerId, stats.find((s) => s.type === 'outbound-rtp')?.packetCount ?? 0);
	}
	return out;
}

function videoOf(stats: InboundVideo[], producerId: string): InboundVideo | undefined {
	return stats.find((s) => s.producerId === producerId);
}

const describeAll = async (...callers: BrowserCaller[]) =>
	`${(await Promise.all(callers.map((c) => c.describe()))).join(' ')} ${bed?.serverLogTail() ?? ''}`;

let alice: Viewer | undefined;
let camera = '';
let screen = '';
let thumbViewer: Viewer | undefined;
let pinViewer: Viewer | undefined;

test('a thumbnail decodes at most 320 px, a pinned tile 1280 px, from one 3-layer simulcast camera', async () => {
	if (unavailable) return console.log(`# SKIPPED browser simulcast: ${unavailable}`);
	const b = ready();
	const caller = await b.openCaller('alice');
	const info = await caller.start({
		url: b.sftUrl,
		token: b.token('alice', conferenceId, 'start'),
		conferenceId,
		displayName: 'Alice',
		video: { ...HD, frameRate: 20, exact: true },
		simulcast: 'vp8',
		screen: true,
	});
	alice = { caller, info };
	camera = info.producerIds.video;
	screen = info.producerIds.screen ?? '';
	const producer = b.server.sft
		.getConference(conferenceId)
		?.getParticipant(info.participantId)
		?.producers.find((p) => p.id === camera);
	assert.is(producer?.rtpParameters.encodings?.length, 3, 'the SFT received a 3-encoding simulcast producer');
	assert.is(producer?.appData['source'], 'camera');

	thumbViewer = await viewer('thumb');
	pinViewer = await viewer('pin');
	const viewAt = Date.now();
	await thumbViewer.caller.setView([{ producerId: camera, ...THUMB }]);
	await pinViewer.caller.setView([{ producerId: camera, ...HD, pinned: true }]);
	const context = () => describeAll(caller, thumbViewer!.caller, pinViewer!.caller);

	const pinned = await pollUntil(
		() => pinViewer!.caller.videoStats(),
		(s) => (videoOf(s, camera)?.frameWidth ?? 0) === 1280,
		'the pinned viewer to decode 1280 px',
		LAYER_TIMEOUT_MS,
		context,
	);
	// The thumbnail viewer has been decoding all along; sample it now the top layer exists.
	const thumb = await pollUntil(
		() => thumbViewer!.caller.videoStats(),
		(s) => (videoOf(s, camera)?.framesDecoded ?? 0) > 20,
		'the thumbnail viewer to decode frames',
		LAYER_TIMEOUT_MS,
		context,
	);
	const thumbVideo = videoOf(thumb, camera);
	console.log(`# thumbnail decodes ${thumbVideo?.frameWidth}×${thumbVideo?.frameHeight}, pinned ${videoOf(pinned, camera)?.frameWidth} px`);
	assert.ok(
		thumbVideo && thumbVideo.frameWidth > 0 && thumbVideo.frameWidth <= 320,
		`thumbnail decodes ≤ 320 px (got ${thumbVideo?.frameWidth})`,
	);
	// Before its setView the viewer saw the default view ("as large as you can"); after it, only layer 0.
	const layers = (await thumbViewer.caller.events('consumerLayersChanged'))
		.filter((e) => e.at > viewAt + 50 && (e.payload as { producerId: string }).producerId === camera)
		.map((e) => (e.payload as { spatialLayer: number | null }).spatialLayer);
	assert.ok(
		layers.length > 0 && layers.every((l) => l === 0 || l === null),
		`after setView the thumbnail got only layer 0: ${JSON.stringify(layers)}`,
	);
});

test('a capped downlink steps the camera down while the screen share keeps its layer, then recovers', async () => {
	if (unavailable || !alice) return console.log('# SKIPPED capped downlink');
	const limited = await viewer('limited');
	await limited.caller.setView([
		{ producerId: camera, ...HD },
		{ producerId: screen, ...HD },
	]);
	const context = () => describeAll(alice!.caller, limited.caller);
	await pollUntil(
		() => limited.caller.videoStats(),
		(s) => videoOf(s, camera)?.frameWidth === 1280 && videoOf(s, screen)?.frameWidth === 1280,
		'the uncapped viewer to decode both streams at 1280 px',
		LAYER_TIMEOUT_MS,
		context,
	);
	// Chrome's fake camera top layer runs at ≈ 0.7 Mbit/s: the cap leaves room for one top layer and a low one.
	await limited.caller.setReceiveBitrate(1_000_000);
	const stepped = await pollUntil(
		() => limited.caller.videoStats(),
		(s) => (videoOf(s, camera)?.frameWidth ?? 1280) < 1280,
		'the camera to step down under a 1 Mbit/s cap',
		LAYER_TIMEOUT_MS,
		context,
	);
	const before = { camera: videoOf(stepped, camera), screen: videoOf(stepped, screen) };
	const sentBefore = await sentBySft(limited.info.participantId);
	await new Promise((resolve) => setTimeout(resolve, 10_000));
	const sentAfter = await sentBySft(limited.info.participantId);
	const after = await limited.caller.videoStats();
	const cameraAfter = videoOf(after, camera);
	const screenAfter = videoOf(after, screen);
	assert.ok(cameraAfter && before.camera && screenAfter && before.screen, 'stats for both streams');
	assert.is(screenAfter.frameWidth, 1280, 'the screen share keeps its top layer under the cap');
	assert.ok(cameraAfter.frameWidth < 1280, 'the camera stays stepped down under the cap');
	assert.ok(cameraAfter.framesDecoded - before.camera.framesDecoded > 40, 'the camera keeps decoding');
	assert.ok(screenAfter.framesDecoded - before.screen.framesDecoded > 40, 'the screen share keeps decoding');
	// Loss: packets the SFT sent the viewer in 10 s that never arrived. (The receiver's own packetsLost also
	// counts the sequence gaps mediasoup's simulcast consumer leaves when it drops packets of a temporal
	// layer out of order while switching; it NACKs them and mediasoup has nothing to resend.)
	for (const [name, producerId, a, z] of [
		['camera', camera, before.camera, cameraAfter],
		['screen', screen, before.screen, screenAfter],
	] as const) {
		const sent = (sentAfter.get(producerId) ?? 0) - (sentBefore.get(producerId) ?? 0);
		const received = z.packetsReceived - a.packetsReceived;
		const loss = Math.max(0, sent - received) / Math.max(1, sent);
		console.log(
			`# capped at 1 Mbit/s, ${name}: ${z.frameWidth} px, +${z.framesDecoded - a.framesDecoded} frames, the SFT sent ${sent} packets, ` +
				`${received} arrived (${(loss * 100).toFixed(2)} % lost; receiver-counted gaps ${Math.max(0, z.packetsLost - a.packetsLost)})`,
		);
		assert.ok(sent > 50, `the SFT kept sending the ${name}`);
		assert.ok(loss < 0.01, `${name} loss under the cap ${(loss * 100).toFixed(2)} % < 1 %`);
	}
	const layerEvents = (await limited.caller.events('consumerLayersChanged')).map(
		(e) => e.payload as { producerId: string; spatialLayer: number | null },
	);
	assert.ok(
		layerEvents.some((e) => e.producerId === camera && e.spatialLayer !== null && e.spatialLayer < 2),
		`the client was told its camera consumer stepped down: ${JSON.stringify(layerEvents)}`,
	);

	await limited.caller.setReceiveBitrate(0);
	await pollUntil(
		() => limited.caller.videoStats(),
		(s) => videoOf(s, camera)?.frameWidth === 1280,
		'the camera to step back up once the cap is lifted',
		LAYER_TIMEOUT_MS,
		context,
	);
	await limited.caller.close();
});

test('layers nobody needs are switched off at the sender, and on again when a viewer pins', async () => {
	if (unavailable || !alice || !pinViewer || !thumbViewer) return console.log('# SKIPPED encodingsNeeded');
	const context = async () => {
		const conference = ready().server.sft.getConference(conferenceId);
		const sft = `SFT: needed layers ${JSON.stringify([...(conference?.neededLayers() ?? [])])}, participants ${JSON.stringify(conference?.participants.map((p) => p.displayName))}`;
		return `${sft} ${await describeAll(alice!.caller, pinViewer!.caller, thumbViewer!.caller)}`;
	};
	// Only the thumbnail (layer 0) is still needed once the pinned viewer looks at the screen share instead.
	await pinViewer.caller.setView([{ producerId: screen, ...HD }]);
	const off = await pollUntil(
		() => alice!.caller.appliedHints(),
		(hints) => hints.some((h) => h.producerId === camera && h.active.join() === 'true,false,false'),
		'alice to apply encodingsNeeded [true,false,false] to her camera',
		15_000,
		context,
	);
	const offAt = off.find((h) => h.producerId === camera && h.active.join() === 'true,false,false')?.at ?? Date.now();
	await new Promise((resolve) => setTimeout(resolve, Math.max(0, offAt + 1500 - Date.now())));
	const sent1 = await alice.caller.outboundEncodings(camera);
	await new Promise((resolve) => setTimeout(resolve, 3000));
	const sent2 = await alice.caller.outboundEncodings(camera);
	const grew = Object.keys(sent2).filter((rid) => (sent2[rid] ?? 0) > (sent1[rid] ?? 0) + 5000);
	console.log(
		`# after the hint, encodings still sending: ${JSON.stringify(grew)} (bytes ${JSON.stringify(sent1)} → ${JSON.stringify(sent2)})`,
	);
	assert.is(grew.length, 1, 'only one encoding (the low layer) is still sent');

	await pinViewer.caller.setView([{ producerId: camera, ...HD, pinned: true }]);
	await pollUntil(
		() => alice!.caller.appliedHints(),
		(hints) => hints.at(-1)?.producerId === camera && hints.at(-1)?.active.join() === 'true,true,true',
		'alice to switch all encodings on again',
		5000,
		context,
	);
	await pollUntil(
		() => pinViewer!.caller.videoStats(),
		(s) => videoOf(s, camera)?.frameWidth === 1280,
		'the pinned viewer to decode 1280 px again',
		LAYER_TIMEOUT_MS,
		context,
	);
	assert.equal(await alice.caller.errors(), [], 'no page errors at the sender');
	await alice.caller.close();
});

test('VP9 SVC (L3T3_KEY): a thumbnail decodes the low spatial layer, a pinned tile the top one', async () => {
	if (unavailable || !thumbViewer || !pinViewer) return console.log('# SKIPPED VP9 SVC');
	const b = ready();
	const caller = await b.openCaller('svc');
	const info = await caller.start({
		url: b.sftUrl,
		token: b.token('svc', conferenceId, 'join'),
		conferenceId,
		displayName: 'SVC',
		video: { ...HD, frameRate: 20, exact: true },
		simulcast: 'vp9',
	});
	const svc = info.producerIds.video;
	const consumer = b.server.sft.getConference(conferenceId)?.getParticipant(thumbViewer.info.participantId);
	await thumbViewer.caller.setView([{ producerId: svc, ...THUMB }]);
	await pinViewer.caller.setView([{ producerId: svc, ...HD, pinned: true }]);
	const context = () => describeAll(caller, thumbViewer!.caller, pinViewer!.caller);
	await pollUntil(
		() => pinViewer!.caller.videoStats(),
		(s) => videoOf(s, svc)?.frameWidth === 1280,
		'the pinned viewer to decode the VP9 top spatial layer (1280 px)',
		LAYER_TIMEOUT_MS,
		context,
	);
	const thumb = await pollUntil(
		() => thumbViewer!.caller.videoStats(),
		(s) => (videoOf(s, svc)?.framesDecoded ?? 0) > 20,
		'the thumbnail viewer to decode VP9 frames',
		LAYER_TIMEOUT_MS,
		context,
	);
	const width = videoOf(thumb, svc)?.frameWidth ?? 0;
	console.log(`# VP9 SVC: thumbnail decodes ${width} px, pinned 1280 px`);
	assert.ok(width > 0 && width <= 320, `VP9 thumbnail decodes ≤ 320 px (got ${width})`);
	assert.is(consumer?.consumers.find((c) => c.producerId === svc)?.type, 'svc', 'the SFT made an SVC consumer');
	await caller.close();
});

test('H.264 simulcast, where this Chromium can encode H.264: a thumbnail decodes the low layer, a pinned tile the top one', async () => {
	if (unavailable || !thumbViewer || !pinViewer) return console.log('# SKIPPED H.264 simulcast');
	const b = ready();
	const caller = await b.openCaller('h264');
	let info: CallInfo;
	try {
		info = await caller.start({
			url: b.sftUrl,
			token: b.token('h264', conferenceId, 'join'),
			conferenceId,
			displayName: 'H264',
			video: { ...HD, frameRate: 20, exact: true },
			simulcast: 'h264',
		});
	} catch (error) {
		// Chromium builds without an H.264 encoder (no proprietary codecs) cannot send it at all.
		if (/cannot send h264/.test((error as Error).message))
			return console.log('# SKIPPED H.264 simulcast: this Chromium cannot encode H.264');
		throw error;
	}
	const h264 = info.producerIds.video;
	await thumbViewer.caller.setView([{ producerId: h264, ...THUMB }]);
	await pinViewer.caller.setView([{ producerId: h264, ...HD, pinned: true }]);
	const context = () => describeAll(caller, thumbViewer!.caller, pinViewer!.caller);
	await pollUntil(
		() => pinViewer!.caller.videoStats(),
		(s) => videoOf(s, h264)?.frameWidth === 1280,
		'the pinned viewer to decode the H.264 top layer (1280 px)',
		LAYER_TIMEOUT_MS,
		context,
	);
	const thumb = await pollUntil(
		() => thumbViewer!.caller.videoStats(),
		(s) => (videoOf(s, h264)?.framesDecoded ?? 0) > 20,
		'the thumbnail viewer to decode H.264 frames',
		LAYER_TIMEOUT_MS,
		context,
	);
	const width = videoOf(thumb, h264)?.frameWidth ?? 0;
	console.log(`# H.264 simulcast: thumbnail decodes ${width} px, pinned 1280 px`);
	assert.ok(width > 0 && width <= 320, `H.264 thumbnail decodes ≤ 320 px (got ${width})`);
	await caller.close();
});

test.run();
