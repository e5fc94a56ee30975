// What clients are told about their conference's federation links: up, down
// after a loss until it is back, gone when closed on purpose; RTT refreshes
// only when it changed; a conference's links are forgotten when it ends.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TypedEmitter } from '../sft/TypedEmitter.ts';
import { FederationLinkWatch } from '../signalling/client/FederationLinkWatch.ts';
import type { FederationLinkInfo } from '../signalling/client/protocol.ts';
import type { ConferenceLinkState } from '../signalling/federation/relay/FederationHub.ts';

class FakeHub extends TypedEmitter<{ conferenceLink: [string, string, ConferenceLinkState] }> {
	link(conferenceId: string, domain: string, state: ConferenceLinkState): void {
		this.emit('conferenceLink', conferenceId, domain, state);
	}
}

class FakeConference extends TypedEmitter<{ closed: [] }> {
	constructor(readonly id: string) {
		super();
	}

	close(): void {
		this.emit('closed');
	}
}

const REFRESH_MS = 30;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function setup() {
	const hub = new FakeHub();
	const rtts = new Map<string, number>();
	const watch = new FederationLinkWatch(hub, { rttMs: (domain) => rtts.get(domain) }, REFRESH_MS);
	const conference = new FakeConference('standup');
	const told: FederationLinkInfo[][] = [];
	const off = watch.subscribe(conference, (links) => told.push(links));
	return { hub, rtts, watch, conference, told, off };
}

test('up, lost (shown down), back up, closed (no longer listed); other conferences are not told', async () => {
	const { hub, watch, told } = setup();
	hub.link('standup', 'b.test', 'up');
	hub.link('standup', 'c.test', 'up');
	hub.link('other', 'd.test', 'up');
	hub.link('standup', 'c.test', 'lost');
	hub.link('standup', 'c.test', 'up');
	hub.link('standup', 'b.test', 'closed');
	assert.equal(told, [
		[{ domain: 'b.test', up: true }],
		[
			{ domain: 'b.test', up: true },
			{ domain: 'c.test', up: true },
		],
		[
			{ domain: 'b.test', up: true },
			{ domain: 'c.test', up: false },
		],
		[
			{ domain: 'b.test', up: true },
			{ domain: 'c.test', up: true },
		],
		[{ domain: 'c.test', up: true }],
	]);
	assert.equal(watch.linksOf('other'), [{ domain: 'd.test', up: true }]);
	watch.close();
});

test('RTT is refreshed on the timer only when it changed, and only for links that are up', async () => {
	const { hub, rtts, watch, told } = setup();
	hub.link('standup', 'b.test', 'up');
	rtts.set('b.test', 12.34);
	await sleep(REFRESH_MS * 3);
	assert.equal(told.at(-1), [{ domain: 'b.test', up: true, rttMs: 12.3 }]);
	const count = told.length;
	await sleep(REFRESH_MS * 3);
	assert.is(told.length, count, 'an unchanged RTT is not sent again');
	hub.link('standup', 'b.test', 'lost');
	assert.equal(told.at(-1), [{ domain: 'b.test', up: false }], 'a link that is down has no RTT');
	watch.close();
});

test('a conference that ends is forgotten; unsubscribed listeners hear nothing', async () => {
	const { hub, watch, conference, told, off } = setup();
	hub.link('standup', 'b.test', 'lost');
	conference.close();
	assert.equal(watch.linksOf('standup'), []);
	off();
	const count = told.length;
	hub.link('standup', 'b.test', 'up');
	assert.is(told.length, count);
	watch.close();
});

test.run();
