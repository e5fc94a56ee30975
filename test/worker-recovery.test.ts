import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FederatedDomains } from './support/federatedDomains.ts';
import { PlainSignallingPeer } from './support/plainSignallingPeer.ts';
import { until } from './support/until.ts';

// One worker per SFT; SIGKILL it. The SFT replaces the worker, re-creates
// the conference on it (same id and start), tells its clients mediaReset,
// and the test clients set up their media again on their own. The
// federation link comes back too, for an anchor's worker and a federated one's.
const test = suite('worker death');
let domains: FederatedDomains;
const peers: PlainSignallingPeer[] = [];
let alice: PlainSignallingPeer;
let bob: PlainSignallingPeer;
let aliceId: string;
let bobId: string;

test.before(async () => {
	domains = await FederatedDomains.start([
		{ domain: 'a.test', allow: ['b.test'] },
		{ domain: 'b.test', allow: ['a.test'] },
	]);
	alice = await PlainSignallingPeer.connect(domains.url('a.test'));
	bob = await PlainSignallingPeer.connect(domains.url('b.test'));
	peers.push(alice, bob);
	const joined = await alice.join({ token: domains.token('alice', 'crash', 'start'), conferenceId: 'crash' });
	aliceId = joined['participantId'] as string;
	alice.consumeAnnounced();
	await alice.sendAudio(1001);
	const bobJoin = await bob.join({ token: domains.token('bob', 'crash', 'join'), conferenceId: 'crash', descriptor: joined['descriptor'] });
	bobId = bobJoin['participantId'] as string;
	bob.consumeAnnounced();
	await bob.sendAudio(2002);
	await until(() => alice.receivedFromParticipant(bobId) > 10 && bob.receivedFromParticipant(aliceId) > 10, 8000, 'media both ways');
});

test.after(async () => {
	for (const peer of peers) peer.close();
	await domains?.close();
});

for (const domain of ['a.test', 'b.test']) {
	test(`SIGKILL of ${domain}'s only worker: conference re-created, clients re-establish media within 3 s, link re-created`, async () => {
		const server = domains.server(domain);
		const before = server.sft.getConference('crash');
		assert.ok(before);
		const worker = server.sft.pool.workers[0]!;
		const resets = [alice.mediaResets, bob.mediaResets];
		const fromBob = alice.receivedFromParticipant(bobId);
		const fromAlice = bob.receivedFromParticipant(aliceId);
		process.kill(worker.pid, 'SIGKILL');
		const back = await until(
			() => alice.receivedFromParticipant(bobId) > fromBob + 5 && bob.receivedFromParticipant(aliceId) > fromAlice + 5,
			10_000,
			'media both ways after the worker died',
		).catch((error) => {
			for (const d of ['a.test', 'b.test']) {
				const c = domains.server(d).sft.getConference('crash');
				console.log(
					d,
					c?.role,
					c?.participants.map((p) => [p.userId, p.producers.length, p.consumers.length]),
					domains.server(d).hub!.linksOf('crash').length,
				);
			}
			console.log(
				alice.mediaResets,
				bob.mediaResets,
				alice.receivedFromParticipant(bobId) - fromBob,
				bob.receivedFromParticipant(aliceId) - fromAlice,
			);
			console.log(
				JSON.stringify(alice.signalling.events.slice(-8).map((e) => e.event)),
				JSON.stringify(bob.signalling.events.slice(-8).map((e) => e.event)),
			);
			throw error;
		});
		console.log(`  ${domain}: media back both ways ${back} ms after SIGKILL`);
		assert.ok(back < 3000, `media back within 3 s (${back} ms)`);
		const after = server.sft.getConference('crash');
		assert.ok(after && after !== before, 'the conference was re-created');
		assert.is(after.createdAt.getTime(), before.createdAt.getTime(), 'it keeps its start (the anchor election depends on it)');
		assert.is.not(server.sft.pool.workers[0]!.pid, worker.pid, 'a new worker serves it');
		const local = domain === 'a.test' ? alice : bob;
		assert.is(local.mediaResets, resets[domain === 'a.test' ? 0 : 1]! + 1, 'the local client was told to re-establish media');
		assert.equal([...alice.signalling.received('conferenceEnded'), ...bob.signalling.received('conferenceEnded')], []);
		for (const d of ['a.test', 'b.test']) {
			const conference = domains.server(d).sft.getConference('crash')!;
			assert.is(domains.server(d).hub!.linksOf('crash').length, 1, `${d} has its federation link again`);
			assert.equal(conference.participants.map((p) => p.userId).sort(), ['alice', 'bob'], `${d}: everyone once`);
			assert.equal(conference.participants.map((p) => p.id).sort(), [aliceId, bobId].sort(), `${d}: same participant ids`);
		}
	});
}

test.run();
