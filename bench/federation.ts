// Federation benchmark: K domains' SFTs in one process (a.bench is the
// anchor), M raw-RTP load clients per domain in one federated conference,
// measured for a fixed window: inter-SFT bytes per link and direction
// against what was published (full mode relays every stream) and what remote
// viewers selected, loss and delay of streams that crossed a hop vs local
// ones, worker CPU and memory. Markdown at the end, or --json.
//   npm run bench -- --participants 5 --duration 15
//   npm run bench -- --sweep 2,5,10
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { Conference } from '../sft/Conference.ts';
import { getOrInsert } from '../sft/getOrInsert.ts';
import type { RelayMode } from '../sft/MediaRelay.ts';
import { loadMediasoup } from '../sft/mediasoupLoader.ts';
import { mintAccessToken } from '../signalling/client/accessToken.ts';
import type { FederationHub } from '../signalling/federation/relay/FederationHub.ts';
import type { ConferenceDescriptor } from '../signalling/federation/relay/linkMessages.ts';
import type { SftServer } from '../signalling/SftServer.ts';
import { WeriftCaller } from '../test/support/weriftCaller.ts';
import { addMediaLoadOptions, int, type MediaLoadOptions, mediaLoadConfig, seconds } from './cliArguments.ts';
import { BENCH_TOKEN_SECRET, FederatedSfts } from './federatedSfts.ts';
import { runModes } from './federationModes.ts';
import { modesSvg, modesTable } from './federationModesReport.ts';
import { type FederationResult, type LinkDirection, markdownReport, type PathFigures, sweepSvg, sweepTable } from './federationReport.ts';
import { lossPercent, machineInfo, round } from './forwardingReport.ts';
import { machineCpuTicks, udpReceiveBufferErrors } from './machineStats.ts';
import type { PlainRtpClient as Client, LocalStream, RemoteStream } from './rtp/plainRtpClient.ts';
import { PlainRtpClient } from './rtp/plainRtpClient.ts';
import type { StreamSender } from './rtp/streamSender.ts';
import { DelayHistogram } from './rtp/streamStats.ts';
import { isProfileName, type ProfileName, profileNames, videoProfile } from './rtp/videoProfiles.ts';

interface Options extends MediaLoadOptions {
	domains: number;
	participants: number;
	sweep: number[] | undefined;
	listenIp: string;
	basePort: number | undefined;
	progress: number;
	svg: string;
	json: boolean;
	webrtc: number;
	mode: RelayMode[] | undefined;
	profile: ProfileName;
	topologies: number[];
	speakerChange: number;
}

const DEFAULT_SVG = join('bench', 'out', 'federation-sweep.svg');

const modeList = (value: string): RelayMode[] => {
	const modes = value.split(',').map((v) => v.trim());
	if (modes.length === 0 || modes.some((m) => m !== 'full' && m !== 'demand')) throw new InvalidArgumentError('modes are full and demand');
	return modes as RelayMode[];
};

const profileName = (value: string): ProfileName => {
	if (!isProfileName(value)) throw new InvalidArgumentError(`profiles are ${profileNames.join(', ')}`);
	return value;
};

const intList = (value: string): number[] => {
	const list = value.split(',').map((v) => Number(v.trim()));
	if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1))
		throw new InvalidArgumentError('expected a comma-separated list of integers >= 1');
	return list;
};

const program = addMediaLoadOptions(
	new Command('bench-federation').description(
		'Measure federation links: K domains (the first is the anchor) with M raw-RTP participants each, all in one conference (full mode: every stream crosses).',
	),
	15,
)
	.option('-k, --domains <n>', 'domains (a.bench anchor, b.bench, …)', int(2), 2)
	.option('-m, --participants <n>', 'participants per domain, each sending Opus + VP8 and receiving', int(1), 5)
	.option('--sweep <list>', 'run once per participants-per-domain value (e.g. 2,5,10), print a table and write an SVG plot', intList)
	.option('--listen-ip <ip>', 'address for the SFTs and the clients', '127.0.0.1')
	.option('--base-port <port>', 'first UDP port of domain 0 (default: random in 46000-48999)', int(1024))
	.option('--progress <s>', 'seconds between progress lines', seconds, 2)
	.option('--svg <file>', 'where --sweep (or --mode) writes its plot', DEFAULT_SVG)
	.option('--webrtc <n>', 'receive-only WebRTC callers (werift + mediasoup-client, real ICE/DTLS/SRTP) per domain, for realism', int(0), 1)
	.option('--json', 'print the result (an array with --sweep) as JSON on stdout; progress goes to stderr', false)
	.option(
		'--mode <list>',
		'compare relay modes on the same load (full,demand): simulcast senders, speaker views that follow the loudest speaker; link bytes vs needed, view-switch first packets',
		modeList,
	)
	.option('--profile <name>', `with --mode: video each participant publishes (${profileNames.join(', ')})`, profileName, 'wire')
	.option('--topologies <list>', 'with --mode: domains per run, a star around a.bench (2 = a pair)', intList, [2, 3])
	.option('--speaker-change <s>', 'with --mode: seconds between changes of the loudest speaker', seconds, 3);

const options = program.parse().opts<Options>();
if (options.mode && options.svg === DEFAULT_SVG) options.svg = join('bench', 'out', 'federation-modes.svg');
const log = (line: string) => (options.json ? process.stderr : process.stdout).write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ANCHOR_CONFERENCE = 'bench-federation';

interface Member {
	domain: string;
	client: Client;
}

/** One receiver's view of one remote stream, with where it was published. */
interface Pair {
	receiver: Member;
	stream: RemoteStream;
	publisher: Member;
	sender: StreamSender;
	crossed: boolean;
	flowingAtStart: boolean;
	flipped: boolean;
	packetsFrom: number;
}

async function main(): Promise<FederationResult[]> {
	const mediasoup = await loadMediasoup();
	const machine = machineInfo(mediasoup.version);
	const sizes = options.sweep ?? [options.participants];
	const results: FederationResult[] = [];
	for (const m of sizes) {
		log(`=== ${options.domains} domains × ${m} participants ===`);
		const result = await runOnce(m, machine, Math.max(...sizes));
		results.push(result);
		if (!options.json) log(`\n${markdownReport(result)}\n`);
	}
	return results;
}

async function startSfts(domains: string[], maxParticipants: number): Promise<FederatedSfts> {
	const portsPerDomain = Math.max(50, 2 * maxParticipants + 2 * domains.length + 10);
	for (let attempt = 1; ; attempt++) {
		try {
			return await FederatedSfts.start({
				domains,
				listenIp: options.listenIp,
				maxVideos: options.maxVideos,
				maxAudible: options.maxAudible,
				portsPerDomain,
				basePort: options.basePort,
			});
		} catch (error) {
			// A random port range may be taken (another bench or test run): try another.
			if (options.basePort !== undefined || attempt >= 4) throw error;
			log(`SFT start failed (${(error as Error).message}); retrying with other ports`);
		}
	}
}

async function runOnce(m: number, machine: FederationResult['machine'], maxParticipants: number): Promise<FederationResult> {
	const domains = Array.from({ length: options.domains }, (_, i) => `${String.fromCharCode(97 + i)}.bench`);
	const [anchor = 'a.bench'] = domains;
	const sfts = await startSfts(domains, maxParticipants);
	const members: Member[] = [];
	try {
		const setupStarted = performance.now();
		const anchorServer = sfts.server(anchor);
		const conferences = new Map<string, Conference>();
		const anchorConference = await anchorServer.sft.getOrCreateConference(ANCHOR_CONFERENCE);
		conferences.set(anchor, anchorConference);
		const descriptor = hubOf(anchorServer).descriptorFor(anchorConference);
		for (const domain of domains.slice(1)) conferences.set(domain, await hubOf(sfts.server(domain)).joinWithDescriptor(descriptor));

		let g = 0;
		for (let i = 0; i < m; i++) {
			for (const domain of domains) {
				const server = sfts.server(domain);
				const level = Math.min(120, 10 + 3 * g++); // distinct levels keep the loudest-N ranking stable
				const client = await PlainRtpClient.join({
					conference: required(conferences.get(domain), domain),
					rtpCapabilities: server.sft.rtpCapabilities,
					name: `${domain}-p${i}`,
					host: options.listenIp,
					...(options.audioRate > 0
						? { audio: { levelDbov: level, packetsPerSecond: options.audioRate, payloadBytes: options.audioBytes } }
						: {}),
					...(options.videoRate > 0
						? {
								video: {
									packetsPerSecond: options.videoRate,
									payloadBytes: options.videoBytes,
									framesPerSecond: options.fps,
									keyFrameIntervalMs: 2000,
								},
							}
						: {}),
				});
				members.push({ domain, client });
			}
		}
		// Remote streams arrive through the links: wait until everyone consumes everyone.
		const kinds = (options.audioRate > 0 ? 1 : 0) + (options.videoRate > 0 ? 1 : 0);
		const wanted = (members.length - 1) * kinds;
		const deadline = performance.now() + 20_000;
		while (members.some((x) => x.client.remoteStreams.length < wanted) && performance.now() < deadline) await sleep(100);
		await Promise.all(members.map((x) => x.client.settled()));
		const consumers = members.reduce((n, x) => n + x.client.remoteStreams.length, 0);
		log(
			`setup: ${domains.length} domains × ${m} participants, ${consumers}/${wanted * members.length} consumers in ${Math.round(performance.now() - setupStarted)} ms`,
		);
		if (consumers < wanted * members.length) log('warning: not every remote stream reached every client; figures cover what did');

		const callers = await joinWebRtcCallers(sfts, domains, descriptor);
		for (const x of members) x.client.startSending();
		log(`warm-up ${options.warmup} s`);
		await sleep(options.warmup * 1000);

		const window = await Window.open(sfts, domains, conferences, members);
		const webrtcFrom = callers.map(({ caller }) => totalReceived(caller));
		const stopProgress = startProgress(window);
		await sleep(options.duration * 1000);
		await window.close();
		const webrtcClients = callers.map(({ domain, caller }, i) => ({
			domain,
			streams: caller.streams.size,
			packetsPerSecond: round((totalReceived(caller) - (webrtcFrom[i] ?? 0)) / window.seconds, 1),
			errors: caller.errors.length,
		}));
		await Promise.allSettled(callers.map(({ caller }) => caller.close()));
		stopProgress();
		for (const x of members) x.client.stopSending();
		await sleep(500); // in-flight packets of the window land
		return {
			config: {
				domains,
				participantsPerDomain: m,
				...mediaLoadConfig(options),
			},
			machine,
			consumers,
			...window.figures(),
			webrtcClients,
		};
	} finally {
		await Promise.allSettled(members.map((x) => x.client.stop()));
		await sfts.close();
	}
}

/**
 * A few real WebRTC receivers (werift + mediasoup-client: ICE, DTLS, SRTP)
 * per domain, joined through signalling with the anchor's descriptor. They
 * only receive, so the link and published figures stay those of the load.
 */
async function joinWebRtcCallers(
	sfts: FederatedSfts,
	domains: string[],
	descriptor: ConferenceDescriptor,
): Promise<{ domain: string; caller: WeriftCaller }[]> {
	const callers: { domain: string; caller: WeriftCaller }[] = [];
	for (const domain of domains) {
		const server = sfts.server(domain);
		for (let i = 0; i < options.webrtc; i++) {
			const user = `${domain}-webrtc${i}`;
			const caller = await WeriftCaller.join({
				url: `https://${options.listenIp}:${server.clients.port}`,
				ca: server.selfSignedCert,
				conferenceId: ANCHOR_CONFERENCE,
				token: mintAccessToken(
					{ user, conference: ANCHOR_CONFERENCE, right: 'join', exp: Math.floor(Date.now() / 1000) + 3600 },
					BENCH_TOKEN_SECRET,
				),
				displayName: user,
				...(domain === domains[0] ? {} : { descriptor }),
				audio: false,
				video: false,
			});
			callers.push({ domain, caller });
		}
	}
	if (callers.length > 0) log(`joined ${callers.length} WebRTC callers`);
	return callers;
}

function totalReceived(caller: WeriftCaller): number {
	let n = 0;
	for (const producerId of caller.streams.keys()) n += caller.receivedCount(producerId);
	return n;
}

type Counters = Map<string, number>;
interface LinkCounters {
	bytes: Counters;
	rtp: Counters;
	rtx: Counters;
}

/** Link counters of one SFT after a fresh poll: `remote|direction` and `remote|direction|kind` → bytes. */
async function linkCounters(server: SftServer): Promise<LinkCounters> {
	await required(server.linkMetrics, 'link metrics').poll();
	const read = async (name: string, key: (labels: Record<string, string | number>) => string): Promise<Counters> => {
		const out: Counters = new Map();
		const metric = server.registry.getSingleMetric(name);
		if (!metric) return out;
		for (const v of (await metric.get()).values) out.set(key(v.labels as Record<string, string | number>), v.value);
		return out;
	};
	return {
		bytes: await read('sft_federation_link_bytes_total', (l) => `${l['remote_domain']}|${l['direction']}`),
		rtp: await read('sft_federation_link_rtp_bytes_total', (l) => `${l['remote_domain']}|${l['direction']}|${l['kind']}`),
		rtx: await read('sft_federation_link_rtx_bytes_total', (l) => `${l['remote_domain']}|${l['direction']}`),
	};
}

const senderOf = (x: Member, kind: string): StreamSender | undefined => (kind === 'audio' ? x.client.audio : x.client.video)?.sender;
const localStreams = (x: Member): LocalStream[] => x.client.localStreams;

class Window {
	readonly sfts: FederatedSfts;
	readonly domains: string[];
	readonly anchor: string;
	readonly members: Member[];
	readonly pairs: Pair[] = [];
	readonly #conferences: Map<string, Conference>;
	readonly #bytesFrom = new Map<StreamSender, number>();
	readonly #bytesTo = new Map<StreamSender, number>();
	readonly #seqFrom = new Map<StreamSender, number>();
	readonly #seqTo = new Map<StreamSender, number>();
	readonly #delay = { crossed: new DelayHistogram(), local: new DelayHistogram() };
	readonly #unsubscribe: (() => void)[] = [];
	/** Needed-stream samples: per directed link `from>to`, the set of senders selected behind it. */
	readonly #neededSamples: Map<string, Set<StreamSender>>[] = [];
	#linksFrom = new Map<string, LinkCounters>();
	#linksTo = new Map<string, LinkCounters>();
	#workerCpuFrom = new Map<string, number>();
	#workerCpuTo = new Map<string, number>();
	#workerRss = new Map<string, number>();
	readonly #startedAt = performance.now();
	#closedAt = 0;
	readonly #nodeCpuFrom = process.cpuUsage();
	#nodeCpu = 0;
	readonly #machineFrom = machineCpuTicks();
	#machineBusy = 0;
	#skippedFrom = 0;
	#skipped = 0;
	readonly #udpDropsFrom = udpReceiveBufferErrors();
	#udpDrops = 0;

	private constructor(sfts: FederatedSfts, domains: string[], conferences: Map<string, Conference>, members: Member[]) {
		this.sfts = sfts;
		this.domains = domains;
		this.anchor = required(domains[0], 'anchor domain');
		this.members = members;
		this.#conferences = conferences;
		const byId = new Map(members.map((x) => [x.client.participant.id, x]));
		for (const receiver of members) {
			// The owner of every producer in this SFT's share; mirrored participants keep their own SFT's id.
			const owners = new Map<string, string>();
			for (const p of required(conferences.get(receiver.domain), receiver.domain).participants)
				for (const producer of p.producers) owners.set(producer.id, p.id);
			const flipped = new Set<string>();
			const onChange = (consumerId: string) => flipped.add(consumerId);
			receiver.client.participant.on('consumerPausedChanged', onChange);
			this.#unsubscribe.push(() => receiver.client.participant.off('consumerPausedChanged', onChange));
			const pairsOf: Pair[] = [];
			for (const stream of receiver.client.remoteStreams) {
				const publisher = byId.get(owners.get(stream.producerId) ?? '');
				const sender = publisher && senderOf(publisher, stream.kind);
				if (!publisher || !sender) continue;
				const pair: Pair = {
					receiver,
					stream,
					publisher,
					sender,
					crossed: publisher.domain !== receiver.domain,
					flowingAtStart: flowing(stream),
					flipped: false,
					packetsFrom: stream.counter.packets,
				};
				pairsOf.push(pair);
				this.pairs.push(pair);
			}
			this.#unsubscribe.push(() => {
				for (const pair of pairsOf) pair.flipped = flipped.has(pair.stream.consumer.id);
			});
			this.#splitDelay(receiver.client, pairsOf);
		}
		for (const x of members) {
			for (const local of localStreams(x)) {
				this.#bytesFrom.set(local.sender, local.sender.bytesSent);
				this.#seqFrom.set(local.sender, local.sender.sent);
			}
		}
		this.#skippedFrom = skippedOf(members);
	}

	static async open(sfts: FederatedSfts, domains: string[], conferences: Map<string, Conference>, members: Member[]): Promise<Window> {
		const window = new Window(sfts, domains, conferences, members);
		window.#linksFrom = await window.#allLinkCounters();
		window.#workerCpuFrom = await window.#workerUsage();
		window.sampleNeeded();
		return window;
	}

	/** Delay samples of streams that crossed a federation link go to one histogram, local ones to another. */
	#splitDelay(client: Client, pairs: Pair[]): void {
		const byStream = new Map(pairs.map((pair) => [pair.stream, pair.crossed ? this.#delay.crossed : this.#delay.local]));
		client.delayBreakdown = (stream) => (this.#closedAt === 0 ? byStream.get(stream) : undefined);
	}

	get seconds(): number {
		return ((this.#closedAt || performance.now()) - this.#startedAt) / 1000;
	}

	/** Directed links in star topology: anchor ↔ every other domain. */
	get directedLinks(): [string, string][] {
		return this.domains.slice(1).flatMap((d): [string, string][] => [
			[this.anchor, d],
			[d, this.anchor],
		]);
	}

	#hops(from: string, to: string): string[] {
		if (from === this.anchor || to === this.anchor) return [`${from}>${to}`];
		return [`${from}>${this.anchor}`, `${this.anchor}>${to}`];
	}

	/** Which crossing streams some receiver behind each link selects right now. */
	sampleNeeded(): void {
		const sample = new Map<string, Set<StreamSender>>();
		for (const pair of this.pairs) {
			if (!pair.crossed || !pair.receiver.client.participant.isSelected(pair.stream.producerId, pair.stream.kind)) continue;
			for (const hop of this.#hops(pair.publisher.domain, pair.receiver.domain)) {
				getOrInsert(sample, hop, () => new Set()).add(pair.sender);
			}
		}
		this.#neededSamples.push(sample);
	}

	async #allLinkCounters(): Promise<Map<string, LinkCounters>> {
		const out = new Map<string, LinkCounters>();
		for (const domain of this.domains) out.set(domain, await linkCounters(this.sfts.server(domain)));
		return out;
	}

	async #workerUsage(): Promise<Map<string, number>> {
		const out = new Map<string, number>();
		for (const domain of this.domains) {
			const usage = await required(this.#conferences.get(domain), domain).mediaWorker.resourceUsage();
			out.set(domain, usage.cpuSeconds);
			this.#workerRss.set(domain, usage.rssBytes);
		}
		return out;
	}

	/** Current link bytes/s per directed link since the window opened (for progress lines). */
	async linkRates(): Promise<{ link: string; mbit: number }[]> {
		const now = await this.#allLinkCounters();
		const dt = this.seconds;
		return this.directedLinks.map(([from, to]) => {
			const key = `${to}|tx`;
			const bytes = (now.get(from)?.bytes.get(key) ?? 0) - (this.#linksFrom.get(from)?.bytes.get(key) ?? 0);
			return { link: `${from}→${to}`, mbit: round((bytes * 8) / dt / 1e6, 2) };
		});
	}

	async workerCpuNow(): Promise<Map<string, number>> {
		return this.#workerUsage();
	}

	async close(): Promise<void> {
		this.sampleNeeded();
		this.#closedAt = performance.now();
		for (const x of this.members) {
			for (const local of localStreams(x)) {
				this.#bytesTo.set(local.sender, local.sender.bytesSent);
				this.#seqTo.set(local.sender, local.sender.sent);
			}
		}
		for (const pair of this.pairs) pair.packetsFrom = pair.stream.counter.packets - pair.packetsFrom; // now: packets in window
		this.#skipped = skippedOf(this.members) - this.#skippedFrom;
		this.#udpDrops = udpReceiveBufferErrors() - this.#udpDropsFrom;
		const cpu = process.cpuUsage(this.#nodeCpuFrom);
		this.#nodeCpu = (cpu.user + cpu.system) / 1e6;
		const machine = machineCpuTicks();
		const total = machine.total - this.#machineFrom.total;
		this.#machineBusy = total > 0 ? (machine.busy - this.#machineFrom.busy) / total : 0;
		this.#linksTo = await this.#allLinkCounters();
		this.#workerCpuTo = await this.#workerUsage();
		for (const off of this.#unsubscribe) off();
	}

	figures(): Omit<FederationResult, 'config' | 'machine' | 'consumers' | 'webrtcClients'> {
		const s = this.seconds;
		const rate = (sender: StreamSender) => ((this.#bytesTo.get(sender) ?? 0) - (this.#bytesFrom.get(sender) ?? 0)) / s;
		const allSenders = this.members.flatMap((x) => localStreams(x).map((l) => ({ domain: x.domain, sender: l.sender })));
		const links: LinkDirection[] = this.directedLinks.map(([from, to]) => {
			const counter = (domain: string, key: string, kind: keyof LinkCounters) =>
				(this.#linksTo.get(domain)?.[kind].get(key) ?? 0) - (this.#linksFrom.get(domain)?.[kind].get(key) ?? 0);
			const linkBytesPerSecond = counter(from, `${to}|tx`, 'bytes') / s;
			// Full mode: to the anchor go the partner's own streams; from the anchor everything not published behind the partner.
			const crossing = allSenders.filter((x) => (from === this.anchor ? x.domain !== to : x.domain === from));
			const published = crossing.reduce((n, x) => n + rate(x.sender), 0);
			const hop = `${from}>${to}`;
			const needed = this.#neededSamples.map((sample) => [...(sample.get(hop) ?? [])]);
			const neededBytes = needed.reduce((n, list) => n + list.reduce((m, sender) => m + rate(sender), 0), 0) / Math.max(1, needed.length);
			const neededStreams = needed.reduce((n, list) => n + list.length, 0) / Math.max(1, needed.length);
			return {
				link: `${from} → ${to}`,
				from,
				to,
				linkBytesPerSecond: round(linkBytesPerSecond),
				linkBytesPerSecondAtReceiver: round(counter(to, `${from}|rx`, 'bytes') / s),
				rtxBytesPerSecond: round(counter(from, `${to}|tx`, 'rtx') / s),
				rtpBytesPerSecond: {
					audio: round(counter(from, `${to}|tx|audio`, 'rtp') / s),
					video: round(counter(from, `${to}|tx|video`, 'rtp') / s),
				},
				publishedBytesPerSecond: round(published),
				publishedStreams: crossing.length,
				ratioToPublished: published > 0 ? round(linkBytesPerSecond / published, 4) : 0,
				neededBytesPerSecond: round(neededBytes),
				neededStreams: round(neededStreams, 1),
				ratioToNeeded: neededBytes > 0 ? round(linkBytesPerSecond / neededBytes, 3) : null,
			};
		});
		let ingress = 0;
		for (const [sender, to] of this.#seqTo) ingress += to - (this.#seqFrom.get(sender) ?? to);
		return {
			windowSeconds: round(s, 2),
			ingressPacketsPerSecond: round(ingress / s),
			links,
			crossed: this.#path(true, this.#delay.crossed),
			local: this.#path(false, this.#delay.local),
			workers: this.domains.map((domain) => ({
				domain,
				cpuPercent: round((((this.#workerCpuTo.get(domain) ?? 0) - (this.#workerCpuFrom.get(domain) ?? 0)) / s) * 100),
				rssMB: round((this.#workerRss.get(domain) ?? 0) / 2 ** 20),
			})),
			node: { cpuPercent: round((this.#nodeCpu / s) * 100), rssMB: round(process.memoryUsage.rss() / 2 ** 20) },
			machineBusyPercent: round(this.#machineBusy * 100),
			kernelUdpDrops: this.#udpDrops,
			senderSkipped: this.#skipped,
			clientErrors: this.members.reduce((n, x) => n + x.client.errors.length, 0),
		};
	}

	#path(crossed: boolean, delay: DelayHistogram): PathFigures {
		let expected = 0;
		let received = 0;
		let pairs = 0;
		let packets = 0;
		for (const pair of this.pairs) {
			if (pair.crossed !== crossed) continue;
			packets += pair.packetsFrom;
			if (!pair.flowingAtStart || !flowing(pair.stream) || pair.flipped) continue;
			const from = this.#seqFrom.get(pair.sender) ?? 0;
			const to = this.#seqTo.get(pair.sender) ?? from;
			expected += to - from;
			received += pair.stream.counter.seqs.countRange(from, to);
			pairs++;
		}
		return {
			pairs,
			expected,
			received,
			lossPercent: lossPercent(expected, received),
			forwardedPacketsPerSecond: round(packets / this.seconds),
			delayMs: {
				p50: delay.percentile(50) ?? null,
				p99: delay.percentile(99) ?? null,
				max: delay.count > 0 ? round(delay.maxMs, 2) : null,
			},
		};
	}
}

function flowing(stream: RemoteStream): boolean {
	return !stream.consumer.closed && !stream.consumer.paused && !stream.consumer.producerPaused;
}

function skippedOf(members: Member[]): number {
	return members.reduce((n, x) => n + x.client.senders.reduce((m, s) => m + s.skipped, 0), 0);
}

function receivedPackets(members: Member[]): number {
	return members.reduce((n, x) => n + x.client.remoteStreams.reduce((m, s) => m + s.counter.packets, 0), 0);
}

/** One line per interval: forwarded packets, link Mbit/s per direction (since the window opened), worker CPU per domain. */
function startProgress(window: Window): () => void {
	let last = { at: performance.now(), received: receivedPackets(window.members), cpu: new Map<string, number>() };
	void window.workerCpuNow().then((cpu) => (last.cpu = cpu));
	let busy = false;
	const timer = setInterval(async () => {
		if (busy) return;
		busy = true;
		try {
			window.sampleNeeded();
			const now = { at: performance.now(), received: receivedPackets(window.members), cpu: await window.workerCpuNow() };
			const dt = (now.at - last.at) / 1000;
			const links = await window.linkRates();
			const cpu = window.domains.map((d) => `${d} ${round((((now.cpu.get(d) ?? 0) - (last.cpu.get(d) ?? 0)) / dt) * 100)} %`).join(', ');
			log(
				`t=${round(window.seconds)}s forwarded ${Math.round((now.received - last.received) / dt)} pkt/s, ` +
					`link ${links.map((l) => `${l.link} ${l.mbit}`).join(', ')} Mbit/s, worker CPU ${cpu}`,
			);
			last = now;
		} finally {
			busy = false;
		}
	}, options.progress * 1000);
	return () => clearInterval(timer);
}

if (options.mode) {
	runModes({
		modes: options.mode,
		profile: videoProfile(options.profile, {
			packetsPerSecond: options.videoRate,
			payloadBytes: options.videoBytes,
			framesPerSecond: options.fps,
			keyFrameIntervalMs: 0,
		}),
		domainCounts: options.topologies,
		sizes: options.sweep ?? [options.participants],
		duration: options.duration,
		warmup: options.warmup,
		speakerChange: options.speakerChange,
		listenIp: options.listenIp,
		basePort: options.basePort,
		maxVideos: options.maxVideos,
		maxAudible: options.maxAudible,
		log,
	}).then(
		async (results) => {
			mkdirSync(join(options.svg, '..'), { recursive: true });
			writeFileSync(options.svg, await modesSvg(results));
			if (options.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
			else log(`\n${modesTable(results)}\n\nplot: ${options.svg}`);
			setTimeout(() => process.exit(0), 200).unref();
		},
		(error: unknown) => {
			process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
			process.exit(1);
		},
	);
} else
	main().then(
		(results) => {
			if (options.sweep) {
				mkdirSync(join(options.svg, '..'), { recursive: true });
				writeFileSync(options.svg, sweepSvg(results));
				log(`\n${sweepTable(results)}\n\nplot: ${options.svg}`);
			}
			if (options.json) process.stdout.write(`${JSON.stringify(options.sweep ? results : results[0], null, 2)}\n`);
			// SFTs are closed; do not wait on stray handles.
			setTimeout(() => process.exit(0), 200).unref();
		},
		(error: unknown) => {
			process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
			process.exit(1);
		},
	);

/** Setup invariants of the bench: a missing piece is a bug in the bench itself. */
function required<T>(value: T | undefined, what: string): T {
	if (value === undefined) throw new Error(`bench setup: ${what} is missing`);
	return value;
}

function hubOf(server: SftServer): FederationHub {
	return required(server.hub, 'federation hub');
}
