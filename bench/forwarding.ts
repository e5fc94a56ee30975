// Forwarding benchmark: N raw-RTP participants in one or more conferences on
// an in-process Sft, sending Opus + VP8 (single layer or a simulcast profile)
// and receiving each other, run for a fixed window; prints progress, then a
// markdown table (or --json). --capacity searches the most participants one
// worker core carries.
//   npm run bench:forwarding -- --senders 10 --receivers 10 --duration 20
//   npm run bench:forwarding -- --profile single,wire
//   npm run bench:forwarding -- --capacity --profile wire --conference-size 10
import { randomInt } from 'node:crypto';
import { Command, InvalidArgumentError, Option } from 'commander';
import pino from 'pino';
import type { Conference } from '../sft/Conference.ts';
import type { MediaWorker } from '../sft/MediaWorker.ts';
import { loadMediasoup } from '../sft/mediasoupLoader.ts';
import { Sft } from '../sft/Sft.ts';
import { resolveWorkerAllocator, type WorkerAllocator } from '../sft/workerAllocator.ts';
import { addMediaLoadOptions, int, type MediaLoadOptions, mediaLoadConfig, seconds } from './cliArguments.ts';
import { type CapacityResult, capacityComparison, capacityReport, findCapacity } from './forwardingCapacity.ts';
import { comparisonReport, type ForwardingResult, machineInfo, markdownReport, round } from './forwardingReport.ts';
import { MeasurementWindow, receivedPackets, sentPackets, workerCpuSeconds } from './forwardingWindow.ts';
import { PlainRtpClient } from './rtp/plainRtpClient.ts';
import { withBandwidthFeedback } from './rtp/rtpCapabilities.ts';
import { type Layout, speakerView } from './rtp/speakerLayout.ts';
import { isProfileName, type ProfileName, profileNames, type VideoProfile, videoProfile } from './rtp/videoProfiles.ts';

interface Options extends MediaLoadOptions {
	allocator: WorkerAllocator;
	senders: number;
	receivers: number;
	profile: ProfileName[];
	conferenceSize: number;
	view: 'speaker' | 'default';
	consume: 'viewed' | 'all';
	announceBwe: boolean;
	followHints: boolean;
	workers: number;
	listenIp: string;
	rtcBasePort: number;
	rtcMinPort: number;
	rtcMaxPort: number;
	progress: number;
	json: boolean;
	capacity: boolean;
	maxLoss: number;
	maxControlMs: number;
	maxParticipants: number;
	retries: number;
}

const profileList = (value: string): ProfileName[] => {
	const names = value.split(',').map((n) => n.trim());
	const unknown = names.filter((n) => !isProfileName(n));
	if (unknown.length > 0 || names.length === 0) throw new InvalidArgumentError(`profiles are ${profileNames.join(', ')}`);
	return names as ProfileName[];
};

const program = addMediaLoadOptions(
	new Command('bench-forwarding').description(
		'Measure SFT forwarding with raw-RTP clients (participant i sends if i < senders, receives if i < receivers).',
	),
	20,
)
	.option('-s, --senders <n>', 'participants that send Opus + VP8', int(0), 10)
	.option('-r, --receivers <n>', 'participants that receive everyone else in their conference', int(0), 10)
	.option(
		'--profile <names>',
		`video each sender publishes, comma-separated to compare (${profileNames.join(', ')}; single = --video-rate/--video-bytes/--fps)`,
		profileList,
		['single'] as ProfileName[],
	)
	.option('--conference-size <n>', 'participants per conference, all conferences on the worker (0 = one conference)', int(0), 0)
	.option(
		'--view <kind>',
		'speaker: 1 large tile (1280×720, pinned) for the loudest other speaker + thumbnails (320×180); default: the first videos, no sizes',
		'speaker',
	)
	.option(
		'--consume <which>',
		'viewed: receivers consume all audio and the videos they show (needs --view speaker); all: every remote producer',
		'viewed',
	)
	.option(
		'--announce-bwe',
		'announce transport-cc and REMB as the pre-simulcast bench did (no feedback follows: simulcast consumers stay at the 600 kbit/s initial estimate)',
		false,
	)
	.option('--follow-hints', 'senders stop encoding layers the SFT says nobody needs (encodingsNeeded)', false)
	.option('--workers <n>', 'mediasoup workers (conferences go to the least loaded)', int(1), 1)
	.addOption(
		new Option('--allocator <name>', 'malloc of the workers (jemalloc is the SFT default)')
			.choices(['system', 'jemalloc'])
			.default('system'),
	)
	.option('--listen-ip <ip>', 'address for the SFT and the clients', '127.0.0.1')
	.option('--rtc-base-port <port>', 'WebRtcServer port of worker 0 (default: random 43000-43899)', int(1), 43000 + randomInt(0, 900))
	.option('--rtc-min-port <port>', 'plain transport port range start', int(1), 44000)
	.option('--rtc-max-port <port>', 'plain transport port range end', int(1), 45999)
	.option('--progress <s>', 'seconds between progress lines', seconds, 2)
	.option('--json', 'print the result as JSON on stdout (progress goes to stderr)', false)
	.option(
		'--capacity',
		'find the most participants (each sending and receiving) one worker core carries under --max-loss; uses -d/-w per step',
		false,
	)
	.option('--max-loss <percent>', 'loss limit for --capacity', Number, 1)
	.option('--max-control-ms <ms>', '--capacity: slowest answer to a control request a step may take', int(1), 1000)
	.option('--max-participants <n>', 'largest count --capacity tries', int(2), 512)
	.option('--retries <n>', '--capacity measures a lossy step the worker did not cause again this often', int(0), 1);

const options = program.parse().opts<Options>();
if (options.view !== 'speaker' && options.view !== 'default') program.error('--view is speaker or default');
const allocator = resolveWorkerAllocator(options.allocator);
if (allocator.missing) program.error(`--allocator jemalloc: ${allocator.missing}`);
if (options.consume !== 'viewed' && options.consume !== 'all') program.error('--consume is viewed or all');
if (options.consume === 'viewed' && options.view !== 'speaker') program.error('--consume viewed needs --view speaker');
const log = (line: string) => (options.json ? process.stderr : process.stdout).write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const layout: Layout | undefined = options.view === 'speaker' ? { ...speakerView, thumbnails: options.maxVideos - 1 } : undefined;

function profileOf(name: ProfileName): VideoProfile {
	return videoProfile(name, {
		packetsPerSecond: options.videoRate,
		payloadBytes: options.videoBytes,
		framesPerSecond: options.fps,
		keyFrameIntervalMs: 2000,
	});
}

async function main(): Promise<ForwardingResult[]> {
	const results: ForwardingResult[] = [];
	for (const name of options.profile) {
		if (options.profile.length > 1) log(`=== profile ${name} ===`);
		results.push(await measure(options.senders, options.receivers, profileOf(name)));
	}
	return results;
}

/** One measured run: `senders` of the participants send, `receivers` of them receive. */
async function measure(senders: number, receivers: number, profile: VideoProfile): Promise<ForwardingResult> {
	const participants = Math.max(senders, receivers);
	if (participants < 2) throw new Error('need at least 2 participants');
	const mediasoup = await loadMediasoup();
	const machine = machineInfo(mediasoup.version);
	const sft = await createSft();
	const clients: PlainRtpClient[] = [];
	const size = options.conferenceSize > 0 ? options.conferenceSize : participants;
	// Without transport-cc or REMB feedback from the clients, consumers follow their preferred layers.
	const rtpCapabilities = options.announceBwe ? sft.rtpCapabilities : withBandwidthFeedback(sft.rtpCapabilities, 'none');
	try {
		const conferences: Conference[] = [];
		for (let k = 0; k * size < participants; k++) conferences.push(await sft.getOrCreateConference(`bench-${k}`));
		const setupStarted = performance.now();
		for (let i = 0; i < participants; i++) {
			const sends = i < senders;
			const conference = conferences[Math.floor(i / size)] ?? conferences[0];
			if (!conference) throw new Error('no conference');
			clients.push(
				await PlainRtpClient.join({
					conference,
					rtpCapabilities,
					name: `p${i}`,
					host: options.listenIp,
					receive: i < receivers && (options.consume === 'viewed' ? 'viewed' : true),
					...(layout ? { layout } : {}),
					// Distinct levels keep the loudest-N ranking (and so the expected counts) stable.
					...(sends && options.audioRate > 0
						? {
								audio: {
									levelDbov: Math.min(120, 10 + 3 * (i % size)),
									packetsPerSecond: options.audioRate,
									payloadBytes: options.audioBytes,
								},
							}
						: {}),
					...(sends && options.videoRate > 0 ? { video: { profile, followEncodingHints: options.followHints } } : {}),
				}),
			);
		}
		await Promise.all(clients.map((c) => c.settled()));
		const consumers = clients.reduce((n, c) => n + c.remoteStreams.length, 0);
		log(
			`setup: ${participants} participants in ${conferences.length} conference(s), ${consumers} consumers in ${Math.round(performance.now() - setupStarted)} ms`,
		);

		for (const client of clients) client.startSending();
		log(`warm-up ${options.warmup} s`);
		await sleep(options.warmup * 1000);

		const workers = [...new Set(conferences.map((c) => c.mediaWorker))];
		const window = await MeasurementWindow.open(clients, workers);
		const stopProgress = startProgress(clients, workers);
		await sleep(options.duration * 1000);
		await window.close();
		stopProgress();
		for (const client of clients) client.stopSending();
		await sleep(500); // in-flight packets of the window land
		return { config: configOf(senders, receivers, conferences.length, profile), machine, ...window.figures() };
	} finally {
		await Promise.allSettled(clients.map((c) => c.stop()));
		sft.close();
	}
}

/** The worker's WebRtcServer needs one fixed port: with the random default, retry if it is taken. */
async function createSft(): Promise<Sft> {
	const randomPort = program.getOptionValueSource('rtcBasePort') === 'default';
	for (let attempt = 1; ; attempt++) {
		const rtcBasePort = attempt === 1 || !randomPort ? options.rtcBasePort : 43000 + randomInt(0, 900);
		try {
			return await Sft.create(
				{
					workers: options.workers,
					listenIp: options.listenIp,
					rtcBasePort,
					rtcMinPort: options.rtcMinPort,
					rtcMaxPort: options.rtcMaxPort,
					logLevel: 'warn',
					limits: { maxVideos: options.maxVideos, maxAudible: options.maxAudible },
					initialOutgoingBitrate: 1_000_000,
					audioLevelIntervalMs: 500,
					audioLevelThreshold: -127,
					allocator,
				},
				pino({ level: 'warn' }, pino.destination(2)),
			);
		} catch (error) {
			if (!randomPort || attempt >= 5) throw error;
		}
	}
}

function configOf(senders: number, receivers: number, conferences: number, profile: VideoProfile): ForwardingResult['config'] {
	return {
		// The arguments, not the CLI options: capacity mode measures other counts.
		senders,
		receivers,
		participants: Math.max(senders, receivers),
		conferences,
		...mediaLoadConfig(options),
		workers: options.workers,
		profile: { name: profile.name, layers: profile.layers },
		view: `${
			layout
				? `speaker view: 1 × ${layout.large.width}×${layout.large.height} pinned + ${layout.thumbnails} × ${layout.thumbnail.width}×${layout.thumbnail.height}`
				: 'default view (first videos, no sizes)'
		}; consuming ${options.consume === 'viewed' ? 'all audio and the videos shown' : 'every producer'}${
			options.announceBwe ? '; transport-cc/REMB announced' : ''
		}`,
		followEncodingHints: options.followHints,
	};
}

/** One line per interval: ingress and forwarded packet rates, worker and Node CPU. */
function startProgress(clients: PlainRtpClient[], workers: MediaWorker[]): () => void {
	const started = performance.now();
	let last = {
		at: started,
		sent: sentPackets(clients),
		received: receivedPackets(clients),
		cpu: process.cpuUsage(),
		workerCpu: Number.NaN,
	};
	void workerCpuSeconds(workers).then((cpu) => (last.workerCpu = cpu));
	const timer = setInterval(async () => {
		const now = {
			at: performance.now(),
			sent: sentPackets(clients),
			received: receivedPackets(clients),
			cpu: process.cpuUsage(),
			workerCpu: await workerCpuSeconds(workers),
		};
		const dt = (now.at - last.at) / 1000;
		const nodeCpu = (now.cpu.user + now.cpu.system - last.cpu.user - last.cpu.system) / 1e6;
		log(
			`t=${round((now.at - started) / 1000)}s ingress ${Math.round((now.sent - last.sent) / dt)} pkt/s, forwarded ${Math.round((now.received - last.received) / dt)} pkt/s, ` +
				`worker CPU ${round(((now.workerCpu - last.workerCpu) / dt) * 100)} %, node CPU ${round((nodeCpu / dt) * 100)} %`,
		);
		last = now;
	}, options.progress * 1000);
	return () => clearInterval(timer);
}

/** Capacity mode: for each profile, everyone sends and receives; see findCapacity. */
async function capacity(): Promise<CapacityResult[]> {
	const results: CapacityResult[] = [];
	for (const name of options.profile) {
		const profile = profileOf(name);
		const search = {
			profile: name,
			conferenceSize: options.conferenceSize > 0 ? options.conferenceSize : null,
			maxLossPercent: options.maxLoss,
			maxControlMs: options.maxControlMs,
			maxParticipants: options.maxParticipants,
			retries: options.retries,
		};
		const result = await findCapacity(search, async (n) => {
			log(`capacity (${name}): ${n} participants`);
			const r = await measure(n, n, profile);
			log(
				`capacity (${name}): ${n} participants → loss ${r.lossPercent} %, worker CPU ${r.worker.cpuPercent} %, Node CPU ${r.node.cpuPercent} %`,
			);
			return r;
		});
		results.push(result);
	}
	return results;
}

function report(results: ForwardingResult[] | CapacityResult[]): string {
	const capacities = results.filter((r): r is CapacityResult => 'steps' in r);
	if (capacities.length > 0) return [...capacities.map(capacityReport), capacityComparison(capacities)].filter(Boolean).join('\n\n');
	const runs = results as ForwardingResult[];
	return [...runs.map(markdownReport), runs.length > 1 ? `Comparison:\n\n${comparisonReport(runs)}` : ''].filter(Boolean).join('\n\n');
}

(options.capacity ? capacity() : main()).then(
	(results) => {
		if (options.json) process.stdout.write(`${JSON.stringify(results.length === 1 ? results[0] : results, null, 2)}\n`);
		else log(`\n${report(results)}`);
		// Workers are closed; do not wait on stray handles.
		setTimeout(() => process.exit(0), 200).unref();
	},
	(error: unknown) => {
		process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
		process.exit(1);
	},
);
