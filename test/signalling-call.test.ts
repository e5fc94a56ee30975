// End to end: an in-process SftServer with a real mediasoup worker, and
// mediasoup-client callers on werift (ICE, DTLS, SRTP over UDP loopback).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TestServer, watchdog } from './support/testServer.ts';
import { WeriftCaller, type WeriftCallerOptions, waitUntil } from './support/weriftCaller.ts';

const testServer = new TestServer('signalling-call-test-secret');
watchdog('signalling-call.test.ts', 85);

const callers = new Set<WeriftCaller>();

const ready = () => testServer.ready();

const token = testServer.token.bind(testServer);

async function call(conferenceId: string, user: string, options: Partial<WeriftCallerOptions> = {}): Promise<WeriftCaller> {
	const s = ready();
	const caller = await WeriftCaller.join({
		url: `https://127.0.0.1:${s.clients.port}`,
		ca: s.selfSignedCert,
		conferenceId,
		token: token(user, conferenceId),
		displayName: user,
		...options,
	});
	callers.add(caller);
	return caller;
}

async function hangUp(...list: (WeriftCaller | undefined)[]): Promise<void> {
	await Promise.all(
		list.map(async (caller) => {
			if (!caller) return;
			callers.delete(caller);
			await caller.close();
		}),
	);
}

function must<T>(value: T | undefined, what: string): T {
	if (value === undefined) throw new Error(what);
	return value;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Each of a and b receives more than `threshold` packets of the other's audio and video. */
async function assertExchange(a: WeriftCaller, b: WeriftCaller, threshold: number): Promise<void> {
	const flows = () => [
		{ what: `${a.signalling.socket.id} <- audio`, n: a.receivedCount(b.audioProducerId) },
		{ what: `${a.signalling.socket.id} <- video`, n: a.receivedCount(b.videoProducerId) },
		{ what: `${b.signalling.socket.id} <- audio`, n: b.receivedCount(a.audioProducerId) },
		{ what: `${b.signalling.socket.id} <- video`, n: b.receivedCount(a.videoProducerId) },
	];
	await waitUntil(() => flows().every((f) => f.n > threshold), 'media both ways', 20_000).catch(() => undefined);
	for (const flow of flows()) assert.ok(flow.n > threshold, `${flow.what}: ${flow.n} unique RTP packets, want > ${threshold}`);
	assert.equal(a.errors, [], 'caller a background errors');
	assert.equal(b.errors, [], 'caller b background errors');
}

test.before(async () => {
	await testServer.start();
});

test.after(async () => {
	await hangUp(...callers);
	await testServer.close().catch(() => undefined);
	// uvu has set the exit code; do not let a leaked handle keep the process up.
	setTimeout(() => process.exit(), 2000).unref();
});

test('two callers exchange audio and video', async () => {
	let a: WeriftCaller | undefined;
	let b: WeriftCaller | undefined;
	try {
		a = await call('call-pair', 'alice');
		b = await call('call-pair', 'bob');
		assert.ok(a.audioProducerId && a.videoProducerId && b.audioProducerId && b.videoProducerId, 'both produce audio and video');
		await assertExchange(a, b, 40);
		// Each consumes exactly the other's two streams, never its own.
		assert.equal(a.consumedProducerIds().sort(), [b.audioProducerId, b.videoProducerId].sort());
		assert.equal(b.consumedProducerIds().sort(), [a.audioProducerId, a.videoProducerId].sort());
		assert.is(ready().sft.getConference('call-pair')?.participants.length, 2);
	} finally {
		await hangUp(a, b);
	}
});

test('setView: a viewer of 4 video senders receives exactly the 2 it views', async () => {
	const senders: WeriftCaller[] = [];
	let viewer: WeriftCaller | undefined;
	try {
		viewer = await call('call-view', 'viewer', { audio: false, video: false });
		for (const caller of await Promise.all([1, 2, 3, 4].map((i) => call('call-view', `sender-${i}`, { audio: false, consume: false })))) {
			senders.push(caller);
		}
		const v = viewer;
		const ids = senders.map((s) => must(s.videoProducerId, 'sender has no video producer'));
		// Before any view, the first maxVideos (9) remote videos flow: all four.
		await waitUntil(() => ids.every((id) => v.receivedCount(id) > 15), 'all four videos at the viewer', 20_000).catch(() => undefined);
		for (const id of ids) assert.ok(v.receivedCount(id) > 15, `before setView: ${v.receivedCount(id)} packets from ${id}`);
		const consumerOf = (producerId: string) => must(v.streams.get(producerId)?.consumerId, `no consumer for ${producerId}`);

		const switchView = async (view: string[], hidden: string[]) => {
			const mark = v.signalling.events.length;
			const pauses = hidden.map((id) => v.signalling.waitFor('consumerPaused', (e) => e.consumerId === consumerOf(id) && e.paused, 5000));
			await v.setView(view);
			await Promise.all(pauses);
			await sleep(300); // packets already on the wire
			const before = new Map(ids.map((id) => [id, v.receivedCount(id)]));
			await sleep(1500);
			const delta = (id: string) => v.receivedCount(id) - (before.get(id) ?? 0);
			for (const id of view) assert.ok(delta(id) > 15, `viewed ${id}: ${delta(id)} new packets in 1.5 s, want > 15`);
			for (const id of hidden) assert.is(delta(id), 0, `hidden ${id}: new packets after the switch`);
			// Only hidden consumers were paused, and nothing else paused or resumed except the newly viewed.
			const changes = v.signalling.events
				.slice(mark)
				.filter((e) => e.event === 'consumerPaused')
				.map((e) => e.payload as { consumerId: string; paused: boolean });
			const paused = changes
				.filter((c) => c.paused)
				.map((c) => c.consumerId)
				.sort();
			assert.equal(paused, hidden.map(consumerOf).sort(), 'consumers paused by the view');
			return changes
				.filter((c) => !c.paused)
				.map((c) => c.consumerId)
				.sort();
		};

		const [s0, s1, s2, s3] = ids as [string, string, string, string];
		const resumedFirst = await switchView([s0, s2], [s1, s3]);
		assert.equal(resumedFirst, [], 'viewed consumers were already flowing; nothing resumes');
		const resumedSecond = await switchView([s1, s3], [s0, s2]);
		assert.equal(resumedSecond, [s1, s3].map(consumerOf).sort(), 'newly viewed consumers resume');
		assert.equal(v.errors, [], 'viewer background errors');
	} finally {
		await hangUp(viewer, ...senders);
	}
});

test('after a signalling drop the SDK rejoins, republishes and resubscribes; nobody is shown twice', async () => {
	let a: WeriftCaller | undefined;
	let b: WeriftCaller | undefined;
	try {
		a = await call('call-drop', 'alice');
		b = await call('call-drop', 'bob', { reconnect: true });
		await assertExchange(a, b, 20);
		const oldBob = b.participantId;
		const oldProducers = [b.audioProducerId, b.videoProducerId];
		const left = a.signalling.waitFor('participantLeft', (e) => e.participantId === oldBob, 10_000);
		const states: string[] = [];
		b.call.on('connection', (state) => states.push(state));
		// The network goes away under socket.io (not a deliberate disconnect): it reconnects by itself.
		b.client.signalling.socket.io.engine.close();
		await left;
		const bob = b;
		await waitUntil(() => states.includes('connected'), 'bob to rejoin', 15_000);
		assert.equal(states, ['reconnecting', 'connected']);
		assert.is.not(bob.participantId, oldBob, 'a new session');
		assert.ok(
			oldProducers.every((id) => id !== bob.audioProducerId && id !== bob.videoProducerId),
			'the tracks are published again as new producers',
		);
		const alice = a;
		await waitUntil(
			() => alice.call.snapshot.participants.some((p) => p.participantId === bob.participantId),
			"alice to see bob's new session",
		);
		for (const [who, caller] of [
			['alice', a],
			['bob', b],
		] as const) {
			const remote = caller.call.snapshot.tiles.filter((t) => !t.local);
			assert.is(remote.length, 1, `${who} shows one remote tile: ${JSON.stringify(remote.map((t) => t.key))}`);
		}
		await assertExchange(a, b, 20);
		assert.is(b.consumedProducerIds().length, 2, "bob consumes alice's two streams once each");
	} finally {
		await hangUp(a, b);
	}
});

test('a worker death moves its conferences to the replacement: clients are told mediaReset, the SDK re-establishes media by itself; a new conference then works', async () => {
	const s = ready();
	let a: WeriftCaller | undefined;
	let b: WeriftCaller | undefined;
	let c: WeriftCaller | undefined;
	let d: WeriftCaller | undefined;
	try {
		a = await call('call-doomed', 'alice');
		b = await call('call-doomed', 'bob');
		await assertExchange(a, b, 10);
		const worker = must(s.sft.pool.workers[0], 'no worker');
		const oldPid = worker.pid;
		const before = must(s.sft.getConference('call-doomed'), 'no conference');
		const resets = [a, b].map((x) => x.signalling.waitFor('mediaReset', () => true, 10_000));
		process.kill(oldPid, 'SIGKILL');
		const [resetA, resetB] = await Promise.all(resets);
		assert.is(resetA?.reason, 'worker_died');
		assert.equal(
			resetB?.participants.map((p) => p.userId),
			['alice'],
			'bob is told who is still there',
		);
		assert.equal([...a.signalling.received('conferenceEnded'), ...b.signalling.received('conferenceEnded')], []);
		const after = must(s.sft.getConference('call-doomed'), 'the conference was re-created');
		assert.is.not(after, before);
		assert.is.not(after.mediaWorker.pid, oldPid);
		assert.equal(after.participants.map((p) => p.id).sort(), [resetA?.participantId, resetB?.participantId].sort(), 'same participant ids');
		// The SDK sets up its transports, streams and consumers again by itself: media flows both ways.
		await assertExchange(a, b, 20);
		await hangUp(a, b);

		await waitUntil(() => s.sft.pool.workers.length === 1 && s.sft.pool.workers[0]?.pid !== oldPid, 'a replacement worker', 15_000);
		c = await call('call-reborn', 'carol');
		d = await call('call-reborn', 'dave');
		await assertExchange(c, d, 40);
		assert.is.not(s.sft.getConference('call-reborn')?.mediaWorker.pid, oldPid);
	} finally {
		await hangUp(a, b, c, d);
	}
});

test.run();
