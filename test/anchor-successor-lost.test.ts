import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LocalFederation } from './support/localFederation.ts';
import { until } from './support/until.ts';

// Four SFT processes; a.test anchors, b.test, c.test and d.test federate.
// SIGKILL takes down the anchor and its first successor (b.test) at once.
// The survivors find b.test unreachable too and agree on the next candidate
// (c.test) by themselves: carol and dave keep talking, no client helps.
const test = suite('anchor and successor lost');
let federation: LocalFederation;

test.before(async () => {
	federation = await LocalFederation.start(['a.test', 'b.test', 'c.test', 'd.test']);
});

test.after(async () => {
	federation?.close();
});

const caller = (domain: string, user: string, right: 'start' | 'join', descriptor?: unknown) =>
	federation.audioCaller(domain, user, 'standup', right, descriptor);

test('SIGKILL of the anchor and of b.test together: c.test takes over and carol and dave keep exchanging media', async () => {
	const alice = await caller('a.test', 'alice', 'start');
	const bob = await caller('b.test', 'bob', 'join', alice.descriptor);
	const carol = await caller('c.test', 'carol', 'join', alice.descriptor);
	const dave = await caller('d.test', 'dave', 'join', alice.descriptor);
	const all = [alice, bob, carol, dave];
	await until(
		() => all.every((l) => all.every((s) => l === s || l.peer.receivedFromParticipant(s.id) > 10)),
		15_000,
		'everyone to hear everyone',
	);

	const carolHeard = carol.peer.receivedFromParticipant(dave.id);
	const daveHeard = dave.peer.receivedFromParticipant(carol.id);
	federation.sft('a.test').kill();
	federation.sft('b.test').kill();
	const failover = await until(
		() => carol.peer.receivedFromParticipant(dave.id) > carolHeard + 5 && dave.peer.receivedFromParticipant(carol.id) > daveHeard + 5,
		20_000,
		'carol and dave to hear each other again',
	);
	console.log(`  survivors exchange media again ${failover} ms after both SIGKILLs`);
	assert.ok(failover < 10_000, `the call continues within 10 s (${failover} ms)`);
	for (const { peer } of [carol, dave]) {
		const told = peer.signalling.received('conferenceDescriptor').at(-1)?.descriptor;
		assert.is(told?.anchorDomain, 'c.test', 'clients are told the new anchor: the first candidate still alive');
		assert.ok(peer.signalling.connected, 'clients stay connected to their own SFT');
		assert.equal(peer.signalling.received('conferenceEnded'), []);
	}
	await until(
		() => carol.peer.roster().join() === 'dave' && dave.peer.roster().join() === 'carol',
		5000,
		'alice and bob to have left both views',
	);
});

test.run();
