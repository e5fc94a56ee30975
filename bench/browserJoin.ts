// A real browser's join to its first remote video frame, local and
// federated: `npm run bench:browser-join` (root: Chromium runs in a network
// namespace; both SFTs listen on the host end of its veth pair).
import { Command } from 'commander';
import {
	type BrowserCaller,
	bundleClient,
	BrowserCaller as Caller,
	createTestNetwork,
	launchChromiumIn,
	makeWorkDir,
	removeStaleNetworks,
	startPageServer,
} from '../test/support/browserCaller.ts';
import { FederatedDomains } from '../test/support/federatedDomains.ts';
import { int } from './cliArguments.ts';

const options = new Command()
	.name('bench:browser-join')
	.description('Chromium: time from the join request to the first decoded remote video frame, joining locally and through a second SFT')
	.option('-n, --repeats <n>', 'viewers of each kind', int(1), 3)
	.option('--json', 'print the result as JSON')
	.parse()
	.opts<{ repeats: number; json?: boolean }>();

interface Sample {
	kind: 'local' | 'federated';
	viewer: number;
	/** ms from the join request to the first frame of the publisher's video, and to the steps before it. */
	firstFrameMs: number;
	joinedMs: number;
	trackMs: number;
}

await removeStaleNetworks();
const work = await makeWorkDir();
const network = await createTestNetwork();
const pageServer = await startPageServer(network.hostIp, await bundleClient(work.dir));
const chromium = await launchChromiumIn(network, work.dir);
const domains = await FederatedDomains.start(
	[
		{ domain: 'a.browser', allow: ['b.browser'] },
		{ domain: 'b.browser', allow: ['a.browser'] },
	],
	{ ip: network.hostIp, signalling: { corsOrigins: [new URL(pageServer.url).origin] }, media: { announcedAddress: network.hostIp } },
);
const callers: BrowserCaller[] = [];
const samples: Sample[] = [];
try {
	const open = async (name: string) => {
		const caller = await Caller.open(chromium.browser, pageServer.url, name);
		callers.push(caller);
		return caller;
	};
	const alice = await open('alice');
	const info = await alice.start({
		url: domains.url('a.browser'),
		token: domains.token('alice', 'latency', 'start'),
		conferenceId: 'latency',
		displayName: 'alice',
		video: { width: 320, height: 240, frameRate: 15 },
	});
	// The publisher is well under way, as in a running call.
	await new Promise((r) => setTimeout(r, 3000));
	for (let i = 0; i < options.repeats; i++) {
		for (const kind of ['local', 'federated'] as const) {
			const domain = kind === 'local' ? 'a.browser' : 'b.browser';
			const viewer = await open(`${kind}-${i}`);
			await viewer.start({
				url: domains.url(domain),
				token: domains.token(`${kind}-${i}`, 'latency', 'join'),
				conferenceId: 'latency',
				displayName: `${kind}-${i}`,
				publish: false,
				...(kind === 'federated' ? { descriptor: info.descriptor } : {}),
			});
			const deadline = Date.now() + 10_000;
			let timings = await viewer.timings();
			while (timings.firstVideoFrameAt[info.producerIds.video] === undefined && Date.now() < deadline) {
				await new Promise((r) => setTimeout(r, 50));
				timings = await viewer.timings();
			}
			const frameAt = timings.firstVideoFrameAt[info.producerIds.video];
			if (frameAt === undefined) throw new Error(`${kind} viewer ${i}: no frame in 10 s; ${await viewer.describe()}`);
			const video = info.producerIds.video;
			const since = (at: number | undefined) => (at ?? Number.NaN) - timings.joinSentAt;
			samples.push({
				kind,
				viewer: i,
				firstFrameMs: since(frameAt),
				joinedMs: since(timings.joinedAt),
				trackMs: since(timings.trackAddedAt[video]),
			});
			if (process.env['JOIN_DEBUG']) {
				const producer = domains.server('a.browser').sft.getConference('latency')?.getProducer(info.producerIds.video);
				const stats = (await producer?.getStats()) as { pliCount?: number; firCount?: number; type: string }[] | undefined;
				console.error(kind, i, JSON.stringify(stats?.map((x) => ({ pli: x.pliCount, fir: x.firCount }))), JSON.stringify(timings));
			}
			// The federated viewer's SFT detaches when it leaves: each federated join opens its share anew.
			await viewer.close();
			await new Promise((r) => setTimeout(r, 1500));
		}
	}
} finally {
	for (const caller of callers) await caller.close().catch(() => undefined);
	await chromium.close();
	await domains.close();
	await pageServer.close();
	await network.close();
	await work.remove();
}
if (options.json) console.log(JSON.stringify(samples, null, 2));
else {
	console.log('| join | viewer | joined (ms) | track added (ms) | first remote frame (ms) |');
	console.log('| --- | --- | --- | --- | --- |');
	for (const s of samples) console.log(`| ${s.kind} | ${s.viewer} | ${s.joinedMs} | ${s.trackMs} | ${s.firstFrameMs} |`);
}
process.exit(0);
