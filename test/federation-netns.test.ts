// Federation between SFT processes on separate (virtual) hosts: each domain's
// SFT runs as its own process (signalling/main.ts) in its own network
// namespace with its own CA; real werift + mediasoup-client callers in the
// root namespace each call their own domain's SFT. a.test anchors; b.test and
// c.test attach to it over mutual TLS and relay media through SRTP pipes;
// d.test is not on a.test's allow list.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createCertificateAuthority, type IssuedCredentials } from '../certs/index.ts';
import type { AccessRight } from '../signalling/client/accessToken.ts';
import type { ConferenceDescriptor } from '../signalling/federation/relay/linkMessages.ts';
import { NetnsHosts, NetnsUnavailableError } from './support/netnsHosts.ts';
import { SftProcess, stopSfts } from './support/sftProcess.ts';
import { RequestError, type ResponseData } from './support/signallingClient.ts';
import { step as declareStep } from './support/steps.ts';
import { WeriftCaller, waitUntil } from './support/weriftCaller.ts';

const TOKEN_SECRET = 'federation-netns-test-secret-0123';
const CONFERENCE = 'netns-standup';
const DOMAINS = ['a.test', 'b.test', 'c.test', 'd.test'] as const;
type Domain = (typeof DOMAINS)[number];
const ALLOW: Record<Domain, string[]> = {
	'a.test': ['b.test', 'c.test'],
	'b.test': ['a.test'],
	'c.test': ['a.test'],
	// d.test would federate with a.test; a.test does not admit it.
	'd.test': ['a.test'],
};

const started = Date.now();
const watchdog = setTimeout(() => {
	console.error(`federation-netns.test.ts: still running after ${((Date.now() - started) / 1000).toFixed(0)} s; giving up`);
	dumpLogs('watchdog');
	hosts?.destroy();
	process.exit(1);
}, 150_000);
watchdog.unref();

const skipReason = NetnsHosts.unavailableReason();
if (skipReason) console.log(`  SKIP federation-netns.test.ts: ${skipReason}`);
const test = suite('federation across network namespaces (SFT processes)');
let hosts: NetnsHosts | undefined;
let setupError: unknown;
let failed = false;
const dir = mkdtempSync(join(tmpdir(), 'sft-netns-'));
const sfts = new Map<Domain, SftProcess>();
const callers = new Set<WeriftCaller>();

test.before(async () => {
	if (skipReason) return;
	try {
		hosts = NetnsHosts.create(DOMAINS.length);
		const cas = new Map<Domain, IssuedCredentials>();
		for (const domain of DOMAINS) cas.set(domain, await createCertificateAuthority({ commonName: `${domain} federation CA`, days: 2 }));
		const trustBundlePem = [...cas.values()].map((ca) => ca.certificatePem).join('\n');
		const results = await Promise.allSettled(
			DOMAINS.map((domain, i) =>
				SftProcess.start({
					hosts: hosts!,
					host: hosts!.host(i),
					domain,
					ca: cas.get(domain)!,
					trustBundlePem,
					allowList: ALLOW[domain],
					peers: Object.fromEntries(
						ALLOW[domain].map((partner) => [partner, { host: hosts!.host(DOMAINS.indexOf(partner as Domain)).address, port: 9443 }]),
					),
					tokenSecret: TOKEN_SECRET,
					dir,
					logLevel: process.env['SFT_TEST_LOG'] ?? 'info',
				}).then((sft) => sfts.set(domain, sft)),
			),
		);
		const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
		if (failures.length > 0) throw new Error(`SFTs did not start:\n${failures.map((e) => e.message).join('\n')}`);
		console.log(
			`  4 SFT processes ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${DOMAINS.map((d) => `${d}@${sft(d).address} pid ${sft(d).pid}`).join(', ')}`,
		);
	} catch (error) {
		setupError = error;
		if (error instanceof NetnsUnavailableError) console.log(`  SKIP: ${error.message}`);
		else failed = true;
	}
});

test.after(async () => {
	await Promise.all([...callers].map((c) => c.close()));
	await stopSfts(sfts.values(), dir, failed);
	hosts?.destroy();
	console.log(`  federation-netns: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
	// uvu has set the exit code; do not let a leaked handle keep the process up.
	setTimeout(() => process.exit(), 2000).unref();
});

/** A test that prints the SFTs' logs when it fails, and is skipped without network namespaces. */
function step(name: string, body: () => Promise<void>): void {
	const onFailure = (why: string) => {
		failed = true;
		dumpLogs(why);
	};
	declareStep(test, { unavailable: skipReason, setupError: () => setupError, onFailure }, name, body);
}

function dumpLogs(why: string): void {
	for (const s of sfts.values()) {
		console.error(`--- ${s.domain} SFT (${s.running ? 'running' : 'exited'}), last lines, after "${why}" ---\n${s.logTail(25)}`);
	}
}

function sft(domain: Domain): SftProcess {
	const s = sfts.get(domain);
	if (!s) throw new Error(`no SFT for ${domain}`);
	return s;
}

type JoinReply = ResponseData['join'];

/** A werift caller of `domain`'s SFT (with another domain's descriptor, a federated join). */
async function call(
	domain: Domain,
	user: string,
	right: AccessRight,
	descriptor?: ConferenceDescriptor,
): Promise<{ caller: WeriftCaller; reply: JoinReply }> {
	const s = sft(domain);
	const caller = await WeriftCaller.join({
		url: s.clientUrl,
		ca: s.clientCaPem,
		conferenceId: CONFERENCE,
		token: s.token(user, CONFERENCE, right),
		displayName: user,
		descriptor,
	});
	callers.add(caller);
	return { caller, reply: must(caller.joinReply, `${user}: no join reply`) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function must<T>(value: T | undefined, what: string): T {
	if (value === undefined) throw new Error(what);
	return value;
}

interface Party {
	name: string;
	caller: WeriftCaller;
}
const party: Partial<Record<'alice' | 'bob' | 'carol', Party>> = {};
let descriptor: ConferenceDescriptor | undefined;

function get(name: 'alice' | 'bob' | 'carol'): WeriftCaller {
	return must(party[name], `${name} is not in the call (an earlier step failed)`).caller;
}

/** Unique RTP packets `receiver` got from each of `sender`'s two streams. */
function flowsBetween(receiver: Party, sender: Party): { what: string; n: number }[] {
	return (['audio', 'video'] as const).map((kind) => {
		const producerId = kind === 'audio' ? sender.caller.audioProducerId : sender.caller.videoProducerId;
		return { what: `${receiver.name} <- ${sender.name} ${kind}`, n: receiver.caller.receivedCount(producerId) };
	});
}

function describeFlows(flows: { what: string; n: number }[]): string {
	return flows.map((f) => `${f.what}: ${f.n}`).join(', ');
}

/** How many new unique packets each flow gets in `ms`, after `settleMs` (packets already on the wire). */
async function deltas(pairs: [Party, Party][], ms: number, settleMs = 300): Promise<{ what: string; n: number }[]> {
	await sleep(settleMs);
	const before = pairs.flatMap(([r, s]) => flowsBetween(r, s));
	await sleep(ms);
	const after = pairs.flatMap(([r, s]) => flowsBetween(r, s));
	return after.map((f, i) => ({ what: f.what, n: f.n - (before[i]?.n ?? 0) }));
}

step('(a) clients of three domains, each on its own SFT process, receive each other’s audio and video', async () => {
	const alice = await call('a.test', 'alice', 'start');
	party.alice = { name: 'alice@a.test', caller: alice.caller };
	descriptor = alice.reply.descriptor;
	assert.ok(descriptor, 'the join reply at the anchor carries a descriptor');
	assert.is(descriptor.anchorDomain, 'a.test');
	assert.is(descriptor.conferenceId, CONFERENCE);
	assert.equal(
		descriptor.federationEndpoint,
		{ host: sft('a.test').address, port: sft('a.test').federationPort },
		"the descriptor names a.test's namespace address",
	);

	const bob = await call('b.test', 'bob', 'join', descriptor);
	party.bob = { name: 'bob@b.test', caller: bob.caller };
	const carol = await call('c.test', 'carol', 'join', descriptor);
	party.carol = { name: 'carol@c.test', caller: carol.caller };
	for (const [who, reply] of [
		['bob', bob.reply],
		['carol', carol.reply],
	] as const) {
		assert.is(reply.descriptor?.anchorDomain, 'a.test', `${who}'s own SFT hands out the anchor's descriptor`);
	}
	const everyone = [party.alice, party.bob, party.carol];
	for (const p of everyone) assert.ok(p.caller.audioProducerId && p.caller.videoProducerId, `${p.name} produces audio and video`);

	const pairs = everyone.flatMap((r) => everyone.filter((s) => s !== r).map((s) => [r, s] as [Party, Party]));
	const all = () => pairs.flatMap(([r, s]) => flowsBetween(r, s));
	const threshold = 50;
	await waitUntil(() => all().every((f) => f.n > threshold), 'every flow', 30_000).catch(() => undefined);
	const flows = all();
	assert.is(flows.length, 12, 'three callers, two others each, audio and video');
	for (const f of flows)
		assert.ok(f.n > threshold, `${f.what}: ${f.n} unique RTP packets, want > ${threshold} (all: ${describeFlows(flows)})`);
	for (const p of everyone) assert.equal(p.caller.errors.map(String), [], `${p.name} background errors`);
	console.log(`  flows: ${describeFlows(flows)}`);
});

step("(b) a b.test client viewing only c.test's video gets it, and no new packets of a.test's video", async () => {
	const alice = must(party.alice, 'alice missing');
	const carol = must(party.carol, 'carol missing');
	const bob = must(party.bob, 'bob missing');
	const aliceVideo = must(alice.caller.videoProducerId, 'alice has no video');
	const carolVideo = must(carol.caller.videoProducerId, 'carol has no video');
	const aliceVideoConsumer = must(bob.caller.streams.get(aliceVideo)?.consumerId, "bob does not consume alice's video");
	const paused = bob.caller.signalling.waitFor('consumerPaused', (e) => e.consumerId === aliceVideoConsumer && e.paused, 8000);
	await bob.caller.setView([carolVideo]);
	await paused.catch((error: Error) =>
		assert.unreachable(`b.test did not pause bob's consumer of alice's video after setView: ${error.message}`),
	);
	const got = await deltas(
		[
			[bob, carol],
			[bob, alice],
		],
		2500,
		500,
	);
	const of = (what: string) =>
		must(
			got.find((f) => f.what === what),
			what,
		).n;
	console.log(`  bob in 2.5 s after setView: ${describeFlows(got)}`);
	assert.ok(
		of(`${bob.name} <- ${carol.name} video`) > 30,
		`viewed c.test video: ${of(`${bob.name} <- ${carol.name} video`)} new packets in 2.5 s, want > 30`,
	);
	assert.ok(
		of(`${bob.name} <- ${alice.name} video`) <= 2,
		`unviewed a.test video: ${of(`${bob.name} <- ${alice.name} video`)} new packets in 2.5 s, want ~0 (<= 2)`,
	);
	// The view only leaves out a.test's video: a.test's audio still reaches bob.
	assert.ok(
		of(`${bob.name} <- ${alice.name} audio`) > 30,
		`a.test audio: ${of(`${bob.name} <- ${alice.name} audio`)} new packets, want > 30`,
	);
});

step('(c) SIGKILL of the b.test SFT: the anchor drops its participant within 5 s; a.test and c.test clients go on', async () => {
	const alice = must(party.alice, 'alice missing');
	const carol = must(party.carol, 'carol missing');
	const bob = must(party.bob, 'bob missing');
	const bobId = bob.caller.participantId;
	const bobProducers = [must(bob.caller.audioProducerId, 'bob audio'), must(bob.caller.videoProducerId, 'bob video')];
	// Precondition: alice knows bob's participant and streams under these ids (mirrored with the same ids).
	assert.ok(
		alice.caller.signalling.received('participantJoined').some((p) => p.participantId === bobId),
		"alice was told bob's participant joined",
	);
	for (const id of bobProducers) assert.ok(alice.caller.remoteProducers.has(id), `alice knows bob's producer ${id}`);

	const timeoutMs = 5000;
	let killedAt = Number.NaN;
	const observe = <T>(what: string, wait: Promise<T>) =>
		wait.then(
			() => ({ what, ms: Date.now() - killedAt }),
			() => ({ what, ms: Number.POSITIVE_INFINITY }),
		);
	const aliceSees = [
		observe(
			'participantLeft',
			alice.caller.signalling.waitFor('participantLeft', (e) => e.participantId === bobId, timeoutMs + 1000),
		),
		...bobProducers.map((id) =>
			observe(
				`producerClosed ${id}`,
				alice.caller.signalling.waitFor('producerClosed', (e) => e.producerId === id, timeoutMs + 1000),
			),
		),
	];
	const carolSees = observe(
		'participantLeft at carol',
		carol.caller.signalling.waitFor('participantLeft', (e) => e.participantId === bobId, timeoutMs + 1000),
	);
	killedAt = Date.now();
	sft('b.test').kill('SIGKILL');
	const exit = await Promise.race([sft('b.test').exited, sleep(3000).then(() => undefined)]);
	assert.is(exit?.signal, 'SIGKILL', 'the b.test SFT process died of SIGKILL');
	const seen = await Promise.all(aliceSees);
	console.log(`  after SIGKILL: alice saw ${seen.map((s) => `${s.what} at ${s.ms} ms`).join(', ')}`);
	for (const s of seen) assert.ok(s.ms < timeoutMs, `alice (a.test) got ${s.what} for bob after ${s.ms} ms, want < ${timeoutMs} ms`);
	const atCarol = await carolSees;
	assert.ok(atCarol.ms < timeoutMs + 1000, `carol (c.test) was told bob left (${atCarol.ms} ms)`);
	assert.ok(sft('a.test').running && sft('c.test').running, 'the a.test and c.test SFTs keep running');

	const got = await deltas(
		[
			[alice, carol],
			[carol, alice],
		],
		2000,
		300,
	);
	console.log(`  alice/carol in 2 s after b.test died: ${describeFlows(got)}`);
	for (const f of got) assert.ok(f.n > 25, `${f.what}: ${f.n} new packets in 2 s after b.test died, want > 25`);
	for (const p of [alice, carol]) assert.equal(p.caller.errors.map(String), [], `${p.name} background errors`);
});

step('(d) a d.test client with a valid descriptor: federation_unavailable, a.test refused d.test by its allow list', async () => {
	const d = must(descriptor, 'no descriptor (step (a) failed)');
	const refusals = async () =>
		SftProcess.metricValue(await sft('a.test').metrics(), 'sft_federation_handshake_refusals_total', { reason: 'domain_not_allowed' }) ??
		Number.NaN;
	const before = await refusals();
	assert.ok(Number.isFinite(before), 'a.test exports the refusal counter');
	let code = '';
	try {
		const { caller } = await call('d.test', 'dave', 'join', d);
		await caller.close();
		code = '(join succeeded)';
	} catch (error) {
		code = error instanceof RequestError ? error.code : `not a request error: ${String(error)}`;
	}
	assert.is(code, 'federation_unavailable', "dave's join at d.test");
	const after = await refusals();
	assert.ok(after > before, `a.test counted the refusal as domain_not_allowed (before ${before}, after ${after})`);
	const alice = get('alice');
	assert.not.ok(
		alice.signalling.received('participantJoined').some((p) => p.userId === 'dave'),
		'dave never appears at a.test',
	);
});

test.run();
