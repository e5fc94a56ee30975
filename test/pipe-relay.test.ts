import { pino } from 'pino';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PipeRelay } from '../sft/PipeRelay.ts';
import { Sft, type SftOptions } from '../sft/Sft.ts';
import { UdpLinkProxy } from './support/udpLinkProxy.ts';

// Two SFTs (separate worker processes) relay one stream over an SRTP pipe
// through a user-space wire that records what crosses it.
const test = suite('pipe relay between two SFTs');
const logger = pino({ level: 'silent' });
const base = 46000 + Math.floor(Math.random() * 200) * 10;
const options = (offset: number): SftOptions => ({
	workers: 1,
	listenIp: '127.0.0.1',
	rtcBasePort: base + offset,
	rtcMinPort: base + offset + 1,
	rtcMaxPort: base + offset + 4,
	logLevel: 'warn',
	limits: { maxVideos: 9, maxAudible: 5 },
	initialOutgoingBitrate: 1_000_000,
	audioLevelIntervalMs: 500,
	audioLevelThreshold: -70,
});
const MARKER = Buffer.from('PLAINTEXT-MARKER-0123456789');
const portRange = (offset: number) => ({ min: base + offset + 1, max: base + offset + 4 });
let anchor: Sft | undefined;
let remote: Sft | undefined;
let proxy: UdpLinkProxy | undefined;

test.after(async () => {
	proxy?.close();
	anchor?.close();
	remote?.close();
});

test('a stream crosses the link once, encrypted, and arrives intact', async () => {
	anchor = await Sft.create(options(0), logger);
	remote = await Sft.create(options(5), logger);
	const confA = await anchor.getOrCreateConference('c1');
	const confB = await remote.getOrCreateConference('c1');
	const relayA = await PipeRelay.create(confA.router, { listenIp: '127.0.0.1', portRange: portRange(0) });
	const relayB = await PipeRelay.create(confB.router, { listenIp: '127.0.0.1', portRange: portRange(5) });
	proxy = await UdpLinkProxy.start('127.0.0.1');
	proxy.wire({ targetA: relayA.localEndpoint, targetB: relayB.localEndpoint });
	// Each side talks to the proxy; SRTP keys are exchanged out of band (here: directly).
	await relayA.connect({
		...relayA.localEndpoint,
		ip: '127.0.0.1',
		port: proxy.portForA,
		srtpParameters: relayB.localEndpoint.srtpParameters,
	});
	await relayB.connect({
		...relayB.localEndpoint,
		ip: '127.0.0.1',
		port: proxy.portForB,
		srtpParameters: relayA.localEndpoint.srtpParameters,
	});

	const inject = await confA.router.createDirectTransport();
	const producer = await inject.produce({
		kind: 'audio',
		rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 100, clockRate: 48000, channels: 2 }], encodings: [{ ssrc: 4242 }] },
	});
	const relayed = await relayA.send(producer);
	const mirrored = await relayB.receive(relayed);
	assert.is(mirrored.id, producer.id, 'far side re-creates the producer under the same id');

	const sink = await confB.router.createDirectTransport();
	const consumer = await sink.consume({ producerId: mirrored.id, rtpCapabilities: remote.rtpCapabilities });
	const received = new Set<number>();
	let markerSeen = 0;
	consumer.on('rtp', (packet: Buffer) => {
		received.add(packet.readUInt16BE(2));
		if (packet.includes(MARKER)) markerSeen++;
	});
	for (let seq = 1; seq <= 100; seq++) {
		producer.send(opusPacket(seq, 4242));
		await new Promise((r) => setTimeout(r, 5));
	}
	await waitUntil(() => received.size >= 95, 3000);
	assert.ok(received.size >= 95, `far side received ${received.size}/100 packets`);
	assert.ok(markerSeen >= 95, 'payload arrives decrypted on the far side');
	const rtpOnWire = proxy.capturedAtoB.filter((p) => p.length > 12 && !isRtcp(p));
	assert.ok(rtpOnWire.length >= 95, `RTP crossed the wire (${rtpOnWire.length} packets)`);
	assert.is(rtpOnWire.filter((p) => p.includes(MARKER)).length, 0, 'no packet on the wire carries the plaintext payload');
	const stats = (await relayA.transport.getStats())[0];
	assert.ok(stats && stats.bytesSent > 0, 'pipe transport stats count the bytes sent');
	inject.close();
	sink.close();
});

/** RFC 5761 demultiplexing: RTCP packet types 192–223 sit where RTP has marker + payload type. */
function isRtcp(packet: Buffer): boolean {
	const type = packet[1] ?? 0;
	return type >= 192 && type <= 223;
}

function opusPacket(seq: number, ssrc: number): Buffer {
	const header = Buffer.alloc(12);
	header[0] = 0x80;
	header[1] = 100;
	header.writeUInt16BE(seq, 2);
	header.writeUInt32BE(seq * 960, 4);
	header.writeUInt32BE(ssrc, 8);
	return Buffer.concat([header, Buffer.from([0xfc]), MARKER, Buffer.alloc(40, seq & 0xff)]);
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
	const until = Date.now() + timeoutMs;
	while (!check() && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
}

test.run();
