import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FederatedDomains } from './support/federatedDomains.ts';
import { PlainSignallingPeer } from './support/plainSignallingPeer.ts';

// The known leak: on the anchor, every conf:attach added a 'closed'
// listener to the conference and never removed it (fixed in the hardening
// merge by removing it when the link goes). A federated SFT attaching and
// detaching over and over must leave the anchor's conference exactly as it was.
const test = suite('attach listener leak');
let domains: FederatedDomains;
const peers: PlainSignallingPeer[] = [];

test.before(async () => {
	domains = await FederatedDomains.start([
		{ domain: 'a.test', allow: ['b.test'] },
		{ domain: 'b.test', allow: ['a.test'] },
	]);
});

test.after(async () => {
	for (const peer of peers) peer.close();
	await domains?.close();
});

const CYCLES = 20;

test(`${CYCLES} attach/detach cycles leave no listener, link or transport behind on the anchor`, async () => {
	const alice = await PlainSignallingPeer.connect(domains.url('a.test'));
	peers.push(alice);
	const joined = await alice.join({ token: domains.token('alice', 'leak', 'start'), conferenceId: 'leak' });
	await alice.sendAudio(1001);
	const anchor = domains.server('a.test');
	const conference = anchor.sft.getConference('leak')!;
	const events = [
		'participantJoined',
		'participantLeft',
		'producerAdded',
		'producerClosed',
		'producerPausedChanged',
		'activeSpeakers',
		'encodingsNeeded',
		'demandUpdated',
		'audioRankingChanged',
		'closed',
	] as const;
	const listeners = () => Object.fromEntries(events.map((name) => [name, conference.listenerCount(name)]));
	const before = listeners();
	const transportsBefore = (await conference.router.dump()).transportIds.length;
	for (let cycle = 0; cycle < CYCLES; cycle++) {
		const bob = await PlainSignallingPeer.connect(domains.url('b.test'));
		await bob.join({ token: domains.token(`bob${cycle}`, 'leak', 'join'), conferenceId: 'leak', descriptor: joined['descriptor'] });
		await bob.sendAudio(2000 + cycle);
		const deadline = Date.now() + 5000;
		while (anchor.hub!.linksOf('leak').length === 0 || conference.participants.length < 2) {
			if (Date.now() > deadline) throw new Error(`cycle ${cycle}: b.test did not attach`);
			await new Promise((r) => setTimeout(r, 20));
		}
		assert.is(conference.listenerCount('closed'), before['closed']! + 1, 'one closed listener while attached');
		bob.close();
		while (anchor.hub!.linksOf('leak').length > 0 || conference.participants.length > 1) {
			if (Date.now() > deadline + 5000) throw new Error(`cycle ${cycle}: b.test did not detach`);
			await new Promise((r) => setTimeout(r, 20));
		}
	}
	assert.equal(listeners(), before, 'every conference listener count is back where it was');
	assert.is((await conference.router.dump()).transportIds.length, transportsBefore, 'no pipe transport left');
});

test.run();
