import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FederatedDomains } from './support/federatedDomains.ts';
import { PlainSignallingPeer } from './support/plainSignallingPeer.ts';
import { until } from './support/until.ts';

// a.test anchors, b.test federates; the federation TCP link and the pipe
// media between them go through a NetworkPath that the test black-holes
// for 10 s. Both SFTs notice, tell their clients, and the call comes back
// when the path does, with nobody duplicated and no client disconnected.
const test = suite('federation link outage');
const OUTAGE_MS = 10_000;
let domains: FederatedDomains;
const peers: PlainSignallingPeer[] = [];

test.before(async () => {
	domains = await FederatedDomains.start(
		[
			{ domain: 'a.test', allow: ['b.test'] },
			{ domain: 'b.test', allow: ['a.test'] },
		],
		{ networkPaths: true },
	);
});

test.after(async () => {
	for (const peer of peers) peer.close();
	await domains?.close();
});

function linkUp(peer: PlainSignallingPeer, domain: string): boolean | undefined {
	return peer.signalling
		.received('federationLinks')
		.at(-1)
		?.links.find((l) => l.domain === domain)?.up;
}

function sftUsers(domain: string): string[] {
	return (
		domains
			.server(domain)
			.sft.getConference('outage')
			?.participants.map((p) => p.userId)
			.sort() ?? []
	);
}

test('a 10 s black hole: seen within 5 s, told to clients, media back within 2 s of the path returning, nobody duplicated', async () => {
	const alice = await PlainSignallingPeer.connect(domains.url('a.test'));
	const bob = await PlainSignallingPeer.connect(domains.url('b.test'));
	peers.push(alice, bob);
	const joined = await alice.join({ token: domains.token('alice', 'outage', 'start'), conferenceId: 'outage' });
	alice.consumeAnnounced();
	const aliceAudio = await alice.sendAudio(1001);
	await bob.join({ token: domains.token('bob', 'outage', 'join'), conferenceId: 'outage', descriptor: joined['descriptor'] });
	bob.consumeAnnounced();
	const bobAudio = await bob.sendAudio(2002);
	await until(() => alice.receivedFrom(bobAudio) > 10 && bob.receivedFrom(aliceAudio) > 10, 8000, 'media both ways');
	await until(() => linkUp(bob, 'a.test') === true && linkUp(alice, 'b.test') === true, 3000, 'both clients to see the link up');

	const path = domains.path('a.test', 'b.test');
	await path.setDown(true);
	const [bobSaw, aliceSaw] = await Promise.all([
		until(() => linkUp(bob, 'a.test') === false, 8000, 'bob to be told the link is down'),
		until(() => linkUp(alice, 'b.test') === false, 8000, 'alice to be told the link is down'),
	]);
	console.log(`  outage seen by b.test's client after ${bobSaw} ms, by a.test's after ${aliceSaw} ms`);
	assert.ok(bobSaw < 5000 && aliceSaw < 5000, 'the outage is seen within 5 s on both sides');
	assert.equal(sftUsers('a.test'), ['alice'], "the anchor dropped b.test's participants");
	assert.equal(sftUsers('b.test'), ['bob'], "b.test dropped the anchor's participants");

	await new Promise((r) => setTimeout(r, OUTAGE_MS - Math.max(bobSaw, aliceSaw)));
	const fromAlice = bob.receivedFrom(aliceAudio);
	const fromBob = alice.receivedFrom(bobAudio);
	await path.setDown(false);
	const back = await until(
		() => bob.receivedFrom(aliceAudio) > fromAlice + 2 && alice.receivedFrom(bobAudio) > fromBob + 2,
		8000,
		'media both ways after the path returned',
	);
	console.log(`  media back both ways ${back} ms after the path returned`);
	assert.ok(back < 2000, `media flows again within 2 s (${back} ms)`);
	await until(() => linkUp(bob, 'a.test') === true && linkUp(alice, 'b.test') === true, 3000, 'both clients to be told the link is up');

	assert.equal(sftUsers('a.test'), ['alice', 'bob']);
	assert.equal(sftUsers('b.test'), ['alice', 'bob']);
	assert.equal(alice.roster(), ['bob'], "alice's view: bob once");
	assert.equal(bob.roster(), ['alice'], "bob's view: alice once");
	assert.ok(alice.signalling.connected && bob.signalling.connected, 'clients stayed connected to their own SFT');
	assert.equal([...alice.signalling.received('conferenceEnded'), ...bob.signalling.received('conferenceEnded')], []);
	const ups = bob.signalling.received('federationLinks').map((e) => e.links.find((l) => l.domain === 'a.test')?.up);
	assert.equal(
		ups.filter((up, i) => up !== ups[i - 1]),
		[true, false, true],
		'bob was told up, down, up',
	);
});

test.run();
