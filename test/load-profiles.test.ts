// The synthetic video the load clients send looks like libwebrtc's per
// layer: frame rate, bitrate, packet sizes, key frames, and for L1T3 the
// temporal pattern and its 40/20/40 % bitrate split. Pure: senders driven by
// a made-up clock, packets read back with the same parser mediasoup's logic follows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { simulcastProfiles, singleLayerProfile, type VideoLayer, VideoLayerSender, type VideoProfile } from './support/plainRtpClient.ts';
import { findSendStamp, parseRtpPacket, parseVp8Descriptor } from './support/rtpPackets.ts';

interface SentPacket {
	bytes: number;
	marker: boolean;
	timestamp: number;
	keyFrame: boolean;
	start: boolean;
	pictureId: number | undefined;
	temporalId: number | undefined;
	tl0PicIdx: number | undefined;
	layerSync: boolean;
	width: number | undefined;
	seq: number | undefined;
}

/** Runs one layer's sender for `seconds` of made-up time in 5 ms ticks; `requestKeyFrameAt` (ms) asks for a key frame once. */
function run(profile: VideoProfile, layer: VideoLayer, seconds: number, requestKeyFrameAt?: number): SentPacket[] {
	const sender = new VideoLayerSender({ ssrc: 1234567, payloadType: 101, layer, profile });
	const out: SentPacket[] = [];
	for (let ms = 0; ms <= seconds * 1000; ms += 5) {
		if (requestKeyFrameAt !== undefined && ms === requestKeyFrameAt) sender.requestKeyFrame();
		sender.drain(ms, (packet) => {
			const rtp = parseRtpPacket(packet);
			if (!rtp) throw new Error('unparsable packet');
			const vp8 = parseVp8Descriptor(rtp.payload);
			if (!vp8) throw new Error('unparsable VP8 descriptor');
			out.push({
				bytes: packet.length,
				marker: rtp.marker,
				timestamp: rtp.timestamp,
				keyFrame: vp8.keyFrame,
				start: vp8.start,
				pictureId: vp8.pictureId,
				temporalId: vp8.temporalId,
				tl0PicIdx: vp8.tl0PicIdx,
				layerSync: vp8.layerSync,
				width: vp8.width,
				seq: findSendStamp(rtp.payload)?.seq,
			});
		});
	}
	return out;
}

/** Packets grouped by frame (a frame starts with the S bit and ends with the marker). */
function frames(packets: readonly SentPacket[]): SentPacket[][] {
	const out: SentPacket[][] = [];
	for (const p of packets) {
		if (p.start) out.push([]);
		out[out.length - 1]?.push(p);
	}
	return out;
}

const frameBytes = (frame: readonly SentPacket[]) => frame.reduce((n, p) => n + p.bytes - 12, 0);

test('chrome 720p layer: 30 fps, about 2.5 Mbit/s, packets within 1200 bytes, one key frame up front and one on request', () => {
	const profile = simulcastProfiles.chrome;
	const layer = profile.layers[2]!;
	const packets = run(profile, layer, 4, 2000);
	const all = frames(packets);
	// Frames due at 0 .. 4000 ms inclusive; a frame being paced out at the end may be incomplete.
	assert.ok(Math.abs(all.length - 121) <= 1, `frames: ${all.length}`);
	assert.ok(
		packets.every((p) => p.bytes <= 1200),
		'every packet within 1200 bytes',
	);
	for (const frame of all.slice(0, -1)) {
		assert.ok(frame.at(-1)?.marker, 'a frame ends with the marker bit');
		assert.ok(new Set(frame.map((p) => p.timestamp)).size === 1, 'one RTP timestamp per frame');
	}
	const keys = all.filter((f) => f[0]?.keyFrame);
	assert.is(keys.length, 2, 'a key frame at the start and one after the request');
	assert.is(keys[0]?.[0]?.width, 1280, 'the key frame header carries the layer size');
	const deltas = all.slice(1, -1).filter((f) => !f[0]?.keyFrame);
	const averageDelta = deltas.reduce((n, f) => n + frameBytes(f), 0) / deltas.length;
	for (const key of keys)
		assert.ok(frameBytes(key) > 4 * averageDelta, `key frame ${frameBytes(key)} B vs average delta ${averageDelta} B`);
	const bitrate = (packets.reduce((n, p) => n + p.bytes - 12, 0) * 8) / 4;
	assert.ok(bitrate > 0.9 * layer.bitrate && bitrate < 1.3 * layer.bitrate, `bitrate ${bitrate} (key frames included)`);
	// Sequence numbers in the stamps count every packet once.
	assert.equal(
		packets.map((p) => p.seq),
		packets.map((_, i) => i),
	);
});

test('L1T3: TL0, TL2, TL1, TL2 cycle restarting at key frames, sync bits, TL0PICIDX per TL0 frame, 40/20/40 % split', () => {
	const profile = simulcastProfiles.chrome;
	const packets = run(profile, profile.layers[1]!, 8, 4010);
	const all = frames(packets).slice(0, -1);
	const tids = all.map((f) => f[0]?.temporalId);
	const keyAt = all.findIndex((f, i) => i > 0 && f[0]?.keyFrame);
	assert.ok(keyAt > 0, 'the requested key frame');
	for (const start of [0, keyAt]) assert.equal(tids.slice(start, start + 8), [0, 2, 1, 2, 0, 2, 1, 2], `cycle from frame ${start}`);
	assert.equal(
		all.slice(1, 5).map((f) => f[0]?.layerSync),
		[true, true, false, false],
		'the first TL2 and the TL1 after a TL0 are sync points',
	);
	for (let i = 1; i < all.length; i++) {
		const previous = all[i - 1]?.[0];
		const current = all[i]?.[0];
		assert.is(current?.pictureId, ((previous?.pictureId ?? 0) + 1) & 0x7fff, 'picture id per frame');
		const expectedTl0 = current?.temporalId === 0 ? ((previous?.tl0PicIdx ?? 0) + 1) & 0xff : previous?.tl0PicIdx;
		assert.is(current?.tl0PicIdx, expectedTl0, 'TL0PICIDX counts TL0 frames');
	}
	const bytesBy = [0, 1, 2].map((tid) =>
		all.filter((f) => !f[0]?.keyFrame && f[0]?.temporalId === tid).reduce((n, f) => n + frameBytes(f), 0),
	);
	const total = bytesBy.reduce((n, b) => n + b, 0);
	const share = bytesBy.map((b) => b / total);
	assert.ok(Math.abs((share[0] ?? 0) - 0.4) < 0.04, `TL0 share ${share[0]}`);
	assert.ok(Math.abs((share[1] ?? 0) - 0.2) < 0.04, `TL1 share ${share[1]}`);
	assert.ok(Math.abs((share[2] ?? 0) - 0.4) < 0.04, `TL2 share ${share[2]}`);
	const average = (tid: number) => {
		const sizes = all.filter((f) => !f[0]?.keyFrame && f[0]?.temporalId === tid).map(frameBytes);
		return sizes.reduce((n, b) => n + b, 0) / sizes.length;
	};
	assert.ok(average(0) > 1.7 * average(1) && average(0) > 1.7 * average(2), 'TL0 frames are about twice the others');
});

test('wire layers: L1T1 (no temporal fields), 0.4 and 1.1 Mbit/s at 30 fps', () => {
	const profile = simulcastProfiles.wire;
	for (const layer of profile.layers) {
		const packets = run(profile, layer, 4);
		assert.ok(
			packets.every((p) => p.temporalId === undefined && p.tl0PicIdx === undefined),
			'no TID or TL0PICIDX',
		);
		const deltaBits = frames(packets)
			.slice(1, -1)
			.reduce((n, f) => n + frameBytes(f) * 8, 0);
		const bitrate = deltaBits / ((frames(packets).length - 2) / 30);
		assert.ok(Math.abs(bitrate / layer.bitrate - 1) < 0.05, `${layer.width}×${layer.height}: ${bitrate} bit/s of delta frames`);
	}
});

test('single: the pre-simulcast stream, 10 packets of 1100 B per frame, evenly paced, key frames as large as the rest', () => {
	const profile = singleLayerProfile({ packetsPerSecond: 300, payloadBytes: 1100, framesPerSecond: 30, keyFrameIntervalMs: 2000 });
	const packets = run(profile, profile.layers[0]!, 4);
	assert.ok(
		packets.every((p) => p.bytes === 12 + 1100),
		'every packet 1100 payload bytes',
	);
	assert.ok(Math.abs(packets.length - 1200) <= 10, `300 packets/s: ${packets.length} in 4 s`);
	const all = frames(packets).slice(0, -1);
	assert.ok(
		all.every((f) => f.length === 10),
		'10 packets per frame',
	);
	assert.is(all.filter((f) => f[0]?.keyFrame).length, 2, 'a key frame every 2 s');
});

test.run();
