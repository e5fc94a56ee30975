// Join to first remote video packet, local and federated: `npm run bench:join`.
// The sender sends key frames only when asked (PLI/FIR), as browsers do, so
// the figure includes the key frame request path.
import { Command } from 'commander';
import type { Conference } from '../sft/Conference.ts';
import { FederatedDomains } from '../test/support/federatedDomains.ts';
import { int } from './cliArguments.ts';
import { PlainRtpClient } from './rtp/plainRtpClient.ts';

const options = new Command()
	.name('bench:join')
	.description('Time from join to the first remote video packet for a local and a federated viewer (in-process SFTs on loopback)')
	.option('-n, --repeats <n>', 'joins of each kind (each in a new conference)', int(1), 5)
	.option('--json', 'print the result as JSON')
	.parse()
	.opts<{ repeats: number; json?: boolean }>();

interface Sample {
	kind: 'local' | 'federated (new link)' | 'federated (link up)';
	/** ms from the join's start. */
	joined: number;
	consumed: number;
	firstPacket: number;
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
	const deadline = performance.now() + timeoutMs;
	while (!check()) {
		if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 2));
	}
}

type Kind = Sample['kind'];
/** Alternates which kind joins first: the second joins within the sender's key frame window of the first. */
function order(i: number): Kind[] {
	const federated: Kind = i === 0 ? 'federated (new link)' : 'federated (link up)';
	return i % 2 === 0 ? ['local', federated] : [federated, 'local'];
}

const domains = await FederatedDomains.start([
	{ domain: 'a.join', allow: ['b.join'], plainPorts: 30 },
	{ domain: 'b.join', allow: ['a.join'], plainPorts: 30 },
]);
const samples: Sample[] = [];
const clients: PlainRtpClient[] = [];
try {
	const a = domains.server('a.join');
	const b = domains.server('b.join');
	if (!a.hub || !b.hub) throw new Error('federation is off');
	for (let i = 0; i < options.repeats; i++) {
		const anchor = await a.sft.getOrCreateConference(`join-${i}`);
		const sender = await PlainRtpClient.join({
			conference: anchor,
			rtpCapabilities: a.sft.rtpCapabilities,
			name: `sender-${i}`,
			video: { packetsPerSecond: 300, framesPerSecond: 30, keyFrameIntervalMs: 0 },
			receive: false,
		});
		clients.push(sender);
		sender.startSending();
		// Past the sender's own first key frame, as a call already running.
		await new Promise((r) => setTimeout(r, 1500));
		const producerId = sender.video?.producer.id ?? '';
		for (const kind of order(i)) {
			const started = performance.now();
			const conference: Conference = kind === 'local' ? anchor : await b.hub.joinWithDescriptor(a.hub.descriptorFor(anchor));
			const server = kind === 'local' ? a : b;
			const viewer = await PlainRtpClient.join({ conference, rtpCapabilities: server.sft.rtpCapabilities, name: `viewer-${kind}-${i}` });
			clients.push(viewer);
			const joined = performance.now() - started;
			await waitFor(() => viewer.remote(producerId) !== undefined, 5000, 'the consumer');
			const consumed = performance.now() - started;
			await waitFor(() => (viewer.remote(producerId)?.counter.packets ?? 0) > 0, 5000, 'the first packet');
			samples.push({ kind, joined, consumed, firstPacket: performance.now() - started });
		}
	}
} finally {
	for (const client of clients) await client.stop();
	await domains.close();
}
if (options.json) console.log(JSON.stringify(samples, null, 2));
else {
	console.log('| join | joined (ms) | consumer (ms) | first video packet (ms) |');
	console.log('| --- | --- | --- | --- |');
	for (const s of samples) console.log(`| ${s.kind} | ${s.joined.toFixed(0)} | ${s.consumed.toFixed(0)} | ${s.firstPacket.toFixed(0)} |`);
}
process.exit(0);
