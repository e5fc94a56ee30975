// Refusals of the client protocol: access tokens, malformed and out-of-order
// requests, draining. Signalling only (no media flows), against an in-process
// SftServer with a real mediasoup worker.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MAX_PAYLOAD_BYTES } from '../signalling/client/protocol.ts';
import { type ResponseData, SignallingClient } from './support/signallingClient.ts';
import { TestServer, watchdog } from './support/testServer.ts';

const testServer = new TestServer('signalling-errors-test-secret');
watchdog('signalling-errors.test.ts', 60);

let rtpCapabilities: ResponseData['getCapabilities']['rtpCapabilities'] | undefined;
const clients = new Set<SignallingClient>();

const ready = () => testServer.ready();

async function connect(): Promise<SignallingClient> {
	const s = ready();
	const client = await SignallingClient.connect({ url: `https://127.0.0.1:${s.clients.port}`, ca: s.selfSignedCert });
	clients.add(client);
	return client;
}

const token = testServer.token.bind(testServer);

function joinPayload(conferenceId: string, tokenValue: string | undefined, displayName?: string) {
	if (!rtpCapabilities) throw new Error('capabilities not loaded');
	return {
		conferenceId,
		...(tokenValue !== undefined ? { token: tokenValue } : {}),
		...(displayName !== undefined ? { displayName } : {}),
		rtpCapabilities: rtpCapabilities as unknown as Record<string, unknown>,
	};
}

test.before(async () => {
	await testServer.start();
	// A failure here resurfaces through ready() in the first test (uvu swallows hook errors).
	try {
		const probe = await connect();
		rtpCapabilities = (await probe.request('getCapabilities', {})).rtpCapabilities;
		probe.close();
		clients.delete(probe);
	} catch {
		rtpCapabilities = undefined;
	}
});

test.after(async () => {
	for (const client of clients) client.close();
	await testServer.close().catch(() => undefined);
	// uvu has set the exit code; do not let a leaked handle keep the process up.
	setTimeout(() => process.exit(), 2000).unref();
});

test('token refusals: missing, forged, expired, other conference, join right without a conference', async () => {
	const client = await connect();
	assert.is(await client.expectError('join', joinPayload('tok-a', undefined)), 'token_missing');
	assert.is(await client.expectError('join', joinPayload('tok-a', '')), 'token_missing');
	assert.is(
		await client.expectError('join', joinPayload('tok-a', token('mallory', 'tok-a', 'start', { secret: 'some-other-secret-1234' }))),
		'token_invalid',
	);
	// A genuine MAC on altered claims (conference swapped in the body) does not verify either.
	const [, genuineMac] = token('mallory', 'tok-b').split('.');
	const alteredBody = Buffer.from(
		JSON.stringify({ u: 'mallory', c: 'tok-a', r: 'start', exp: Math.floor(Date.now() / 1000) + 600 }),
	).toString('base64url');
	assert.is(await client.expectError('join', joinPayload('tok-a', `${alteredBody}.${genuineMac}`)), 'token_invalid');
	assert.is(await client.expectError('join', joinPayload('tok-a', 'not-a-token')), 'token_invalid');
	assert.is(await client.expectError('join', joinPayload('tok-a', token('alice', 'tok-a', 'start', { expiresIn: -5 }))), 'token_expired');
	assert.is(await client.expectError('join', joinPayload('tok-a', token('alice', 'tok-b'))), 'token_wrong_conference');
	assert.is(await client.expectError('join', joinPayload('tok-a', token('alice', 'tok-a', 'join'))), 'conference_not_found');
	assert.is(ready().sft.getConference('tok-a'), undefined, 'no refused join created a conference');
	// Refusals leave the connection usable: the same socket now joins.
	const joined = await client.request('join', joinPayload('tok-a', token('alice', 'tok-a'), 'Alice'));
	assert.is(joined.conferenceId, 'tok-a');
	assert.ok(joined.participantId);
	client.close();
});

test('a start token creates the conference; a join token then enters it', async () => {
	const starter = await connect();
	const joiner = await connect();
	const started = await starter.request('join', joinPayload('tok-c', token('alice', 'tok-c', 'start'), 'Alice'));
	assert.equal(started.participants, []);
	const announced = starter.waitFor('participantJoined', (p) => p.userId === 'bob');
	const joined = await joiner.request('join', joinPayload('tok-c', token('bob', 'tok-c', 'join'), 'Bob'));
	assert.equal(joined.participants, [{ participantId: started.participantId, userId: 'alice', displayName: 'Alice' }]);
	const seen = await announced;
	assert.equal(seen, { participantId: joined.participantId, userId: 'bob', displayName: 'Bob' });
	assert.is(ready().sft.getConference('tok-c')?.participants.length, 2);
	starter.close();
	joiner.close();
});

test('malformed, unknown and out-of-order requests get error codes; nobody is disconnected', async () => {
	const bystander = await connect();
	const rogue = await connect();
	const conference = 'rogue-room';

	// Out of order before joining.
	const sendParams = {
		transportId: 'x',
		kind: 'audio',
		rtpParameters: { codecs: [{ mimeType: 'audio/opus', payloadType: 111, clockRate: 48000 }] },
	};
	assert.is(await rogue.expectError('produce', sendParams), 'not_joined');
	assert.is(await rogue.expectError('createTransport', { direction: 'send' }), 'not_joined');
	assert.is(await rogue.expectError('setView', { producerIds: [] }), 'not_joined');

	await bystander.request('join', joinPayload(conference, token('bystander', conference)));
	await rogue.request('join', joinPayload(conference, token('rogue', conference)));
	assert.is(await rogue.expectError('join', joinPayload(conference, token('rogue', conference))), 'already_joined');

	// Wrong types and shapes.
	assert.is(await rogue.expectError('createTransport', { direction: 'sideways' }), 'bad_request');
	assert.is(await rogue.expectError('createTransport', { direction: 'send', extra: 1 }), 'bad_request');
	assert.is(await rogue.expectError('createTransport', 'send'), 'bad_request');
	assert.is(await rogue.expectError('setView', { producerIds: 'all' }), 'bad_request');
	assert.is(await rogue.expectError('consume', { transportId: 5, producerId: null }), 'bad_request');
	assert.is(await rogue.expectError('resume', { consumerId: '' }), 'bad_request');
	assert.is(await rogue.expectError('join', { conferenceId: 42, rtpCapabilities: {} }), 'bad_request');
	assert.is(await rogue.expectError('noSuchMethod', {}), 'unknown_method');
	assert.is(await rogue.expectError('__proto__', {}), 'unknown_method');
	assert.is(await rogue.expectError('toString', {}), 'unknown_method');

	// Unknown ids.
	const dtlsParameters = { role: 'client', fingerprints: [{ algorithm: 'sha-256', value: 'AA:BB' }] };
	assert.is(await rogue.expectError('connectTransport', { transportId: 'no-such-transport', dtlsParameters }), 'unknown_transport');
	assert.is(await rogue.expectError('produce', { ...sendParams, transportId: 'no-such-transport' }), 'unknown_transport');
	assert.is(await rogue.expectError('consume', { transportId: 'no-such-transport', producerId: 'p' }), 'unknown_transport');
	assert.is(await rogue.expectError('resume', { consumerId: 'no-such-consumer' }), 'unknown_consumer');
	assert.is(await rogue.expectError('pause', { consumerId: 'no-such-consumer' }), 'unknown_consumer');
	assert.is(await rogue.expectError('pause', { producerId: 'no-such-producer' }), 'unknown_producer');
	assert.is(await rogue.expectError('closeProducer', { producerId: 'no-such-producer' }), 'unknown_producer');
	const recv = await rogue.request('createTransport', { direction: 'recv' });
	assert.is(await rogue.expectError('consume', { transportId: recv.transportId, producerId: 'no-such-producer' }), 'cannot_consume');
	assert.is(await rogue.expectError('produce', { ...sendParams, transportId: recv.transportId }), 'wrong_transport_direction');

	// Size limits.
	const oversized = { direction: 'send', padding: 'x'.repeat(MAX_PAYLOAD_BYTES + 1) };
	assert.is(await rogue.expectError('createTransport', oversized), 'payload_too_large');
	const tenIds = Array.from({ length: 10 }, (_, i) => `producer-${i}`);
	assert.is(await rogue.expectError('setView', { producerIds: tenIds }), 'view_too_large');
	assert.is(await rogue.expectError('setView', { producerIds: Array.from({ length: 65 }, (_, i) => `p${i}`) }), 'bad_request');

	// A request without an acknowledgement gets its refusal as a requestError event.
	const refusal = rogue.waitForAny('requestError', () => true, 3000);
	rogue.socket.emit('noSuchMethod', {});
	assert.equal(await refusal, {
		method: 'noSuchMethod',
		ok: false,
		error: { code: 'unknown_method', message: 'unknown request "noSuchMethod"' },
	});

	// Everyone is still connected and served.
	assert.ok(rogue.connected, 'rogue still connected');
	assert.ok(bystander.connected, 'bystander still connected');
	await rogue.request('setView', { producerIds: tenIds.slice(0, 2) });
	const bystanderTransport = await bystander.request('createTransport', { direction: 'send' });
	assert.ok(bystanderTransport.transportId);
	assert.is(ready().sft.getConference(conference)?.participants.length, 2);

	// A newcomer joins the same conference and sees both earlier participants.
	const joinedNotice = bystander.waitFor('participantJoined', (p) => p.userId === 'newcomer');
	const newcomer = await connect();
	const joined = await newcomer.request('join', joinPayload(conference, token('newcomer', conference, 'join')));
	assert.equal(joined.participants.map((p) => p.userId).sort(), ['bystander', 'rogue']);
	await joinedNotice;
	assert.equal(bystander.received('participantLeft'), [], 'nobody left the conference');
	assert.equal(bystander.received('conferenceEnded'), []);
	rogue.close();
	bystander.close();
	newcomer.close();
});

test('racing joins: two joins sent back to back make one participant; a join cut off by disconnect leaves nothing behind', async () => {
	const s = ready();
	const client = await connect();
	const results = await Promise.allSettled([
		client.request('join', joinPayload('race-1', token('racer', 'race-1'))),
		client.request('join', joinPayload('race-1', token('racer', 'race-1'))),
	]);
	const outcomes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code?: string }).code)).sort();
	// The second join arrives while the first is in flight: nobody has joined yet.
	assert.equal(outcomes, ['join_in_progress', 'ok']);
	assert.is(s.sft.getConference('race-1')?.participants.length, 1);
	client.close();
	const deadline = Date.now() + 5000;
	while (s.sft.getConference('race-1') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
	assert.is(s.sft.getConference('race-1'), undefined, 'conference ends when its only client disconnects');

	// The disconnect arrives while the conference is still being created.
	const quitter = await connect();
	quitter.socket.emit('join', joinPayload('race-2', token('quitter', 'race-2')), () => undefined);
	quitter.close();
	await new Promise((resolve) => setTimeout(resolve, 500));
	assert.is(s.sft.getConference('race-2'), undefined, 'no orphaned participant keeps the conference alive');
});

test('draining refuses new conferences but still admits joins to running ones', async () => {
	const s = ready();
	const host = await connect();
	await host.request('join', joinPayload('drain-old', token('host', 'drain-old')));
	s.sft.startDraining();
	assert.ok(s.sft.draining);
	const late = await connect();
	assert.is(await late.expectError('join', joinPayload('drain-new', token('late', 'drain-new', 'start'))), 'server_draining');
	assert.is(s.sft.getConference('drain-new'), undefined);
	const joined = await late.request('join', joinPayload('drain-old', token('late', 'drain-old', 'start')));
	assert.equal(
		joined.participants.map((p) => p.userId),
		['host'],
	);
	const guest = await connect();
	await guest.request('join', joinPayload('drain-old', token('guest', 'drain-old', 'join')));
	assert.is(s.sft.getConference('drain-old')?.participants.length, 3);
	host.close();
	late.close();
	guest.close();
});

test.run();
