import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LocalFederation } from './support/localFederation.ts';
import { until } from './support/until.ts';

// Three SFT processes; a.test anchors the call, b.test and c.test federate.
// SIGKILL takes a.test down with its worker. The survivors agree on the
// successor by themselves (lowest member domain: b.test), c.test attaches
// to it, and bob and carol keep talking; no client does anything. Then
// a.test comes back empty and alice rejoins through it with the
// descriptor the others were given, as a federated SFT of b.test.
const test = suite('anchor failover');
let federation: LocalFederation;

test.before(async () => {
	federation = await LocalFederation.start(['a.test', 'b.test', 'c.test']);
});

test.after(async () => {
	federation?.close();
});

const caller = (domain: string, user: string, right: 'start' | 'join', descriptor?: unknown) =>
	federation.audioCaller(domain, user, 'standup', right, descriptor);

test('SIGKILL of the anchor: the survivors elect b.test and keep exchanging media within 5 s; the old anchor rejoins as a federated SFT', async () => {
	const alice = await caller('a.test', 'alice', 'start');
	const bob = await caller('b.test', 'bob', 'join', alice.descriptor);
	const carol = await caller('c.test', 'carol', 'join', alice.descriptor);
	const hears = (listener: typeof alice, speaker: typeof alice, more = 10) => {
		const from = listener.peer.receivedFromParticipant(speaker.id);
		return () => listener.peer.receivedFromParticipant(speaker.id) > from + more;
	};
	const all = [alice, bob, carol];
	await until(
		() => all.every((l) => all.every((s) => l === s || l.peer.receivedFromParticipant(s.id) > 10)),
		10_000,
		'everyone to hear everyone',
	);

	const bobHearsCarol = hears(bob, carol, 5);
	const carolHearsBob = hears(carol, bob, 5);
	federation.sft('a.test').kill();
	const failover = await until(() => bobHearsCarol() && carolHearsBob(), 15_000, 'bob and carol to hear each other again');
	console.log(`  survivors exchange media again ${failover} ms after the anchor's SIGKILL`);
	assert.ok(failover < 5000, `the call continues within 5 s (${failover} ms)`);
	for (const { peer } of [bob, carol]) {
		const told = peer.signalling.received('conferenceDescriptor').at(-1)?.descriptor;
		assert.is(told?.anchorDomain, 'b.test', 'clients are told the new anchor');
		assert.ok(peer.signalling.connected, 'clients stay connected to their own SFT');
		assert.equal(peer.signalling.received('conferenceEnded'), []);
	}
	await until(() => bob.peer.roster().join() === 'carol' && carol.peer.roster().join() === 'bob', 5000, 'alice to have left both views');
	const descriptor = bob.peer.signalling.received('conferenceDescriptor').at(-1)?.descriptor;
	assert.is(descriptor?.createdAt, (alice.descriptor as { createdAt: string }).createdAt, 'the conference keeps its start');

	await federation.startDomain('a.test');
	const alice2 = await caller('a.test', 'alice', 'join', descriptor);
	assert.is((alice2.descriptor as { anchorDomain?: string } | undefined)?.anchorDomain, 'b.test', 'a.test joined as a federated SFT');
	await until(
		() => [alice2, bob, carol].every((l) => [alice2, bob, carol].every((s) => l === s || l.peer.receivedFromParticipant(s.id) > 10)),
		10_000,
		'alice, back through a.test, to hear and be heard',
	);
	assert.equal(bob.peer.roster(), ['alice', 'carol'], "bob's view: alice and carol, once each");
	assert.equal(carol.peer.roster(), ['alice', 'bob']);
	assert.equal(alice2.peer.roster(), ['bob', 'carol']);
});

test.run();
