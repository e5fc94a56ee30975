// Forwarding benchmark: one conference on an in-process Sft, N participants
// sending synthetic Opus + VP8 over plain RTP and receiving each other, run
// for a fixed window; prints progress, then a markdown table (or --json).
//   npm run bench:forwarding -- --senders 10 --receivers 10 --duration 20
import { randomInt } from 'node:crypto';
import { Command } from 'commander';
import pino from 'pino';
import type { MediaWorker } from '../sft/MediaWorker.ts';
import { loadMediasoup } from '../sft/mediasoupLoader.ts';
import { Sft } from '../sft/Sft.ts';
import { addMediaLoadOptions, int, type MediaLoadOptions, mediaLoadConfig, seconds } from './cliArguments.ts';
import { type ForwardingResult, machineInfo, markdownReport, round } from './forwardingReport.ts';
import { MeasurementWindow, receivedPackets, sentPackets, workerCpuSeconds } from './forwardingWindow.ts';
import { PlainRtpClient } from './rtp/plainRtpClient.ts';

interface Options extends MediaLoadOptions {
	senders: number;
	receivers: number;
	workers: number;
	listenIp: string;
	rtcBasePort: number;
	rtcMinPort: number;
	rtcMaxPort: number;
	progress: number;
	json: boolean;
	capacity: boolean;
	maxLoss: number;
}

const program = addMediaLoadOptions(
	new Command('bench-forwarding').description(
		'Measure SFT forwarding with raw-RTP clients in one conference (participant i sends if i < senders, receives if i < receivers).',
	),
	20,
)
	.option('-s, --senders <n>', 'participants that send Opus + VP8', int(0), 10)
	.option('-r, --receivers <n>', 'participants that receive everyone else', int(0), 10)
	.option('--workers <n>', 'mediasoup workers (one conference uses one)', int(1), 1)
	.option('--listen-ip <ip>', 'address for the SFT and the clients', '127.0.0.1')
	.option('--rtc-base-port <port>', 'WebRtcServer port of worker 0 (default: random 43000-43899)', int(1), 43000 + randomInt(0, 900))
	.option('--rtc-min-port <port>', 'plain transport port range start', int(1), 44000)
	.option('--rtc-max-port <port>', 'plain transport port range end', int(1), 44999)
	.option('--progress <s>', 'seconds between progress lines', seconds, 2)
	.option('--json', 'print the result as JSON on stdout (progress goes to stderr)', false)
	.option(
		'--capacity',
		'find the most participants (each sending and receiving) one worker core carries under --max-loss; uses -d/-w per step',
		false,
	)
	.option('--max-loss <percent>', 'loss limit for --capacity', Number, 1);

const options = program.parse().opts<Options>();
const log = (line: string) => (options.json ? process.stderr : process.stdout).write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<ForwardingResult> {
	return measure(options.senders, options.receivers);
}

/** One measured run: `senders` of the participants send, `receivers` of them receive. */
async function measure(senders: number, receivers: number): Promise<ForwardingResult> {
	const participants = Math.max(senders, receivers);
	if (participants < 2) throw new Error('need at least 2 participants');
	const mediasoup = await loadMediasoup();
	const machine = machineInfo(mediasoup.version);
	const sft = await createSft();
	const clients: PlainRtpClient[] = [];
	try {
		const conference = await sft.getOrCreateConference('bench');
		const setupStarted = performance.now();
		for (let i = 0; i < participants; i++) {
			const sends = i < senders;
			clients.push(
				await PlainRtpClient.join({
					conference,
					rtpCapabilities: sft.rtpCapabilities,
					name: `p${i}`,
					host: options.listenIp,
					receive: i < receivers,
					// Distinct levels keep the loudest-N ranking (and so the expected counts) stable.
					...(sends && options.audioRate > 0
						? { audio: { levelDbov: Math.min(120, 10 + 3 * i), packetsPerSecond: options.audioRate, payloadBytes: options.audioBytes } }
						: {}),
					...(sends && options.videoRate > 0
						? {
								video: {
									packetsPerSecond: options.videoRate,
									payloadBytes: options.videoBytes,
									framesPerSecond: options.fps,
									keyFrameIntervalMs: 2000,
								},
							}
						: {}),
				}),
			);
		}
		await Promise.all(clients.map((c) => c.settled()));
		const consumers = clients.reduce((n, c) => n + c.remoteStreams.length, 0);
		log(`setup: ${participants} participants, ${consumers} consumers in ${Math.round(performance.now() - setupStarted)} ms`);

		for (const client of clients) client.startSending();
		log(`warm-up ${options.warmup} s`);
		await sleep(options.warmup * 1000);

		const workers = [conference.mediaWorker];
		const window = await MeasurementWindow.open(clients, workers);
		const stopProgress = startProgress(clients, workers);
		await sleep(options.duration * 1000);
		await window.close();
		stopProgress();
		for (const client of clients) client.stopSending();
		await sleep(500); // in-flight packets of the window land
		return { config: configOf(senders, receivers), machine, ...window.figures() };
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
				},
				pino({ level: 'warn' }, pino.destination(2)),
			);
		} catch (error) {
			if (!randomPort || attempt >= 5) throw error;
		}
	}
}

function configOf(senders: number, receivers: number): ForwardingResult['config'] {
	const participants = Math.max(senders, receivers);
	return {
		// The arguments, not the CLI options: capacity mode measures other counts.
		senders,
		receivers,
		participants,
		...mediaLoadConfig(options),
		workers: options.workers,
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

export interface CapacityStep {
	participants: number;
	lossPercent: number;
	forwardedPacketsPerSecond: number;
	workerCpuPercent: number;
	nodeCpuPercent: number;
	machineBusyPercent: number;
}

/**
 * Capacity mode: everyone sends and receives; double the participants until
 * loss reaches the limit, then bisect between the last good and first bad count.
 * One conference lives on one worker, so the answer is participants per core.
 */
async function capacity(): Promise<{ maxLossPercent: number; participantsPerCore: number; steps: CapacityStep[] }> {
	const steps: CapacityStep[] = [];
	const run = async (n: number): Promise<boolean> => {
		log(`capacity: ${n} participants`);
		const r = await measure(n, n);
		steps.push({
			participants: n,
			lossPercent: r.lossPercent,
			forwardedPacketsPerSecond: r.forwardedPacketsPerSecond,
			workerCpuPercent: r.worker.cpuPercent,
			nodeCpuPercent: r.node.cpuPercent,
			machineBusyPercent: r.machineBusyPercent,
		});
		log(`capacity: ${n} participants → loss ${r.lossPercent} %, worker CPU ${r.worker.cpuPercent} %`);
		return r.lossPercent < options.maxLoss;
	};
	let good = 0;
	let bad: number | undefined;
	for (let n = 4; bad === undefined && n <= 128; n *= 2) {
		if (await run(n)) good = n;
		else bad = n;
	}
	while (bad !== undefined && bad - good > 1 && bad - good > good / 8) {
		const mid = Math.floor((good + bad) / 2);
		if (await run(mid)) good = mid;
		else bad = mid;
	}
	return { maxLossPercent: options.maxLoss, participantsPerCore: good, steps };
}

function capacityReport(result: Awaited<ReturnType<typeof capacity>>): string {
	const rows = result.steps.map(
		(s) =>
			`| ${s.participants} | ${s.lossPercent} % | ${Math.round(s.forwardedPacketsPerSecond)} | ${s.workerCpuPercent} % | ${s.nodeCpuPercent} % | ${s.machineBusyPercent} % |`,
	);
	return [
		`**Capacity: ${result.participantsPerCore} participants on one worker core with < ${result.maxLossPercent} % loss** (each sends Opus + VP8 and receives 9 videos + 5 audios)`,
		'',
		'| participants | loss | forwarded pkt/s | worker CPU (one core) | Node CPU (load clients) | machine busy |',
		'| --- | --- | --- | --- | --- | --- |',
		...rows,
	].join('\n');
}

(options.capacity ? capacity() : main()).then(
	(result) => {
		if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
		else log(`\n${'steps' in result ? capacityReport(result) : markdownReport(result)}`);
		// Workers are closed; do not wait on stray handles.
		setTimeout(() => process.exit(0), 200).unref();
	},
	(error: unknown) => {
		process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
		process.exit(1);
	},
);
