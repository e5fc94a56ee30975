// What one client may take of the SFT: per-client caps, conference size,
// token lifetime and user id, plain transports (a token right, media only to
// the client's own address), and malformed input at the edges (deep nesting,
// oversized requests). Each refusal has its code and is counted; the
// offending client and everyone else stay connected.
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { opusProducerParameters } from '../bench/rtp/producerParameters.ts';
import { mintAccessToken } from '../signalling/client/accessToken.ts';
import { SftProcess } from './support/sftProcess.ts';
import { SignallingClient } from './support/signallingClient.ts';
import { TestServer, watchdog } from './support/testServer.ts';

const server = new TestServer('client-limits-test-secret-0123456789');
watchdog('client-limits.test.ts', 90);
const clients = new Set<SignallingClient>();
let rtpCapabilities: Record<string, unknown> = {};

test.before(async () => {
	await server.start({
		limits: {
			maxTransportsPerClient: 3,
			maxProducersPerClient: 2,
			maxConsumersPerClient: 2,
			maxAppDataBytes: 64,
			maxParticipantsPerConference: 4,
			maxUserIdLength: 16,
		},
	});
	try {
		const probe = await connect();
		rtpCapabilities = (await probe.request('getCapabilities', {})).rtpCapabilities as unknown as Record<string, unknown>;
	} catch {
		// resurfaces through ready()
	}
});
test.after(async () => {
	for (const client of clients) client.close();
	await server.close().catch(() => undefined);
	setTimeout(() => process.exit(), 2000).unref();
});

async function connect(): Promise<SignallingClient> {
	const client = await SignallingClient.connect({ url: server.url, ca: server.ready().selfSignedCert });
	clients.add(client);
	return client;
}

async function joined(conferenceId: string, user: string, options: { plain?: boolean } = {}): Promise<SignallingClient> {
	const client = await connect();
	await client.request('join', { conferenceId, token: server.token(user, conferenceId, 'start', options), rtpCapabilities });
	return client;
}

async function errorCount(code: string): Promise<number> {
	const text = await (await fetch(`http://127.0.0.1:${server.ready().metricsServer.port}/metrics`)).text();
	return SftProcess.metricValue(text, 'sft_client_request_errors_total', { code }) ?? 0;
}

async function plainProducer(client: SignallingClient, ssrc: number): Promise<string> {
	const send = await client.request('createTransport', { direction: 'send', type: 'plain' });
	const { producerId } = await client.request('produce', {
		transportId: send.transportId,
		kind: 'audio',
		rtpParameters: opusProducerParameters(ssrc, `c${ssrc}`) as never,
	});
	return producerId;
}

test('transports, producers, consumers and appData are capped per client, also for bursts', async () => {
	const before = await errorCount('too_many_transports');
	const alice = await joined('caps', 'alice', { plain: true });
	const burst = await Promise.allSettled(Array.from({ length: 5 }, () => alice.request('createTransport', { direction: 'recv' })));
	const outcomes = burst.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code)).sort();
	assert.equal(outcomes, ['ok', 'ok', 'ok', 'too_many_transports', 'too_many_transports']);
	assert.is(await errorCount('too_many_transports'), before + 2, 'each refusal counted');

	const bob = await joined('caps', 'bob', { plain: true });
	const send = await bob.request('createTransport', { direction: 'send', type: 'plain' });
	const produce = (ssrc: number, appData?: Record<string, string>) =>
		bob.request('produce', {
			transportId: send.transportId,
			kind: 'audio',
			rtpParameters: opusProducerParameters(ssrc, `b${ssrc}`) as never,
			...(appData ? { appData } : {}),
		});
	assert.is(
		await bob.expectError('produce', {
			transportId: send.transportId,
			kind: 'audio',
			rtpParameters: opusProducerParameters(7, 'b7'),
			appData: { note: 'x'.repeat(80) },
		}),
		'app_data_too_large',
	);
	await produce(11, { note: 'short' });
	await produce(12);
	assert.is(
		await bob.expectError('produce', { transportId: send.transportId, kind: 'audio', rtpParameters: opusProducerParameters(13, 'b13') }),
		'too_many_producers',
	);

	const carol = await joined('caps', 'carol', { plain: true });
	await plainProducer(carol, 21);
	const recv = await alice.request('createTransport', { direction: 'recv', type: 'plain' }).catch(() => undefined);
	assert.is(recv, undefined, 'alice already holds 3 transports');
	const dave = await joined('caps', 'dave');
	const daveRecv = await dave.request('createTransport', { direction: 'recv' });
	const producerIds = server
		.ready()
		.sft.getConference('caps')!
		.participants.flatMap((p) => p.producers.map((pr) => pr.id));
	assert.is(producerIds.length, 3);
	await dave.request('consume', { transportId: daveRecv.transportId, producerId: producerIds[0]! });
	await dave.request('consume', { transportId: daveRecv.transportId, producerId: producerIds[1]! });
	assert.is(await dave.expectError('consume', { transportId: daveRecv.transportId, producerId: producerIds[2]! }), 'too_many_consumers');
	for (const c of [alice, bob, carol, dave]) assert.ok(c.connected, 'refused clients stay connected');
});

test('a full conference refuses the next participant with conference_full; tokens too long-lived or with long user ids are refused', async () => {
	for (const user of ['p1', 'p2', 'p3', 'p4']) await joined('full', user);
	const fifth = await connect();
	const join = (token: string, conferenceId = 'full') => fifth.expectError('join', { conferenceId, token, rtpCapabilities });
	assert.is(await join(server.token('p5', 'full')), 'conference_full');
	assert.is(server.ready().sft.getConference('full')?.participants.length, 4);
	const exp = (seconds: number) => Math.floor(Date.now() / 1000) + seconds;
	const mint = (user: string, expires: number) =>
		mintAccessToken({ user, conference: 'other', right: 'start', exp: expires }, server.secret);
	assert.is(await join(mint('eve', exp(2 * 86_400)), 'other'), 'token_lifetime_too_long');
	assert.is(await join(mint('eve', 1e300), 'other'), 'token_lifetime_too_long');
	assert.is(await join(mint('e'.repeat(17), exp(600)), 'other'), 'user_id_too_long');
	assert.is(server.ready().sft.getConference('other'), undefined);
});

test('plain transports need the plain right and send only to the signalling address', async () => {
	const plainless = await joined('plain', 'viewer');
	assert.is(await plainless.expectError('createTransport', { direction: 'recv', type: 'plain' }), 'plain_not_allowed');
	await plainless.request('createTransport', { direction: 'recv' });

	const ingest = await joined('plain', 'ingest', { plain: true });
	const sender = await joined('plain', 'sender', { plain: true });
	await plainProducer(sender, 31);
	const recv = await ingest.request('createTransport', { direction: 'recv', type: 'plain' });
	// A third party's socket: the client names it as its media destination.
	const victim = createSocket('udp4');
	let victimBytes = 0;
	victim.on('message', (packet) => (victimBytes += packet.length));
	await new Promise<void>((resolve) => victim.bind(0, '127.0.0.2', () => resolve()));
	const victimPort = (victim.address() as AddressInfo).port;
	assert.is(
		await ingest.expectError('connectTransport', { transportId: recv.transportId, ip: '127.0.0.2', port: victimPort }),
		'plain_destination_not_allowed',
	);
	const own = createSocket('udp4');
	await new Promise<void>((resolve) => own.bind(0, '127.0.0.1', () => resolve()));
	await ingest.request('connectTransport', { transportId: recv.transportId, ip: '127.0.0.1', port: (own.address() as AddressInfo).port });
	await new Promise((resolve) => setTimeout(resolve, 300));
	assert.is(victimBytes, 0, 'nothing reached the third party');
	victim.close();
	own.close();
});

test('deeply nested and oversized requests get error replies; the connection stays up', async () => {
	const client = await joined('malformed', 'mallory');
	// Built by hand: JSON.stringify itself would overflow at this depth.
	const deep = `${'['.repeat(30_000)}${']'.repeat(30_000)}`;
	const refusal = client.waitForAny('requestError', () => true, 5000);
	client.socket.io.engine.write(`2["createTransport",${deep}]`); // socket.io EVENT packet; engine.io adds its message type
	const reply = (await refusal) as { error: { code: string; message: string } };
	assert.is(reply.error.code, 'payload_too_deep');
	assert.not.match(reply.error.message, /at .*\.ts/, 'no stack trace');
	assert.ok(client.connected);

	assert.is(await client.expectError('createTransport', { direction: 'send', padding: 'x'.repeat(300 * 1024) }), 'payload_too_large');
	assert.ok(client.connected, 'a 300 KiB request gets a reply, not a dropped connection');
	await client.request('createTransport', { direction: 'send' });
});

test.run();
