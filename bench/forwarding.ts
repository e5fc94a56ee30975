// Forwarding benchmark: one conference on an in-process Sft, N participants
// sending synthetic Opus + VP8 over plain RTP and receiving each other, run
// for a fixed window; prints progress, then a markdown table (or --json).
//   npm run bench -- --senders 10 --receivers 10 --duration 20
import { randomInt } from 'node:crypto';
import { Command } from 'commander';
import { int, seconds } from './cliArguments.ts';
import pino from 'pino';
import type { MediaWorker } from '../sft/MediaWorker.ts';
import { loadMediasoup } from '../sft/mediasoupLoader.ts';
import { Sft } from '../sft/Sft.ts';
import { PlainRtpClient } from './rtp/plainRtpClient.ts';
import { machineInfo, markdownReport, round, type ForwardingResult } from './forwardingReport.ts';
import { MeasurementWindow, receivedPackets, sentPackets, workerCpuSeconds } from './forwardingWindow.ts';

interface Options {
	senders: number;
	receivers: number;
	duration: number;
	warmup: number;
	audioRate: number;
	audioBytes: number;
	videoRate: number;
	videoBytes: number;
	fps: number;
	maxAudible: number;
	maxVideos: number;
	workers: number;
	listenIp: string;
	rtcBasePort: number;
	rtcMinPort: number;
	rtcMaxPort: number;
	progress: number;
	json: boolean;
}


const program = new Command('bench-forwarding')
	.description('Measure SFT forwarding with raw-RTP clients in one conference (participant i sends if i < senders, receives if i < receivers).')
	.option('-s, --senders <n>', 'participants that send Opus + VP8', int(0), 10)
	.option('-r, --receivers <n>', 'participants that receive everyone else', int(0), 10)
	.option('-d, --duration <s>', 'measured window, seconds', seconds, 20)
	.option('-w, --warmup <s>', 'seconds before the window (speaker ranking, key frames)', seconds, 3)
	.option('--audio-rate <pps>', 'Opus packets/s per sender (0 = no audio)', int(0), 50)
	.option('--audio-bytes <n>', 'Opus payload bytes', int(24), 100)
	.option('--video-rate <pps>', 'VP8 packets/s per sender (0 = no video)', int(0), 300)
	.option('--video-bytes <n>', 'VP8 payload bytes', int(40), 1100)
	.option('--fps <n>', 'VP8 frames/s (packets per frame = rate / fps)', int(1), 30)
	.option('--max-audible <n>', 'loudest speakers each receiver hears', int(1), 5)
	.option('--max-videos <n>', 'videos each receiver views', int(1), 9)
	.option('--workers <n>', 'mediasoup workers (one conference uses one)', int(1), 1)
	.option('--listen-ip <ip>', 'address for the SFT and the clients', '127.0.0.1')
	.option('--rtc-base-port <port>', 'WebRtcServer port of worker 0 (default: random 43000-43899)', int(1), 43000 + randomInt(0, 900))
	.option('--rtc-min-port <port>', 'plain transport port range start', int(1), 44000)
	.option('--rtc-max-port <port>', 'plain transport port range end', int(1), 44999)
	.option('--progress <s>', 'seconds between progress lines', seconds, 2)
	.option('--json', 'print the result as JSON on stdout (progress goes to stderr)', false);

const options = program.parse().opts<Options>();
const log = (line: string) => (options.json ? process.stderr : process.stdout).write(`${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<ForwardingResult> {
	const participants = Math.max(options.senders, options.receivers);
	if (participants < 2) throw new Error('need at least 2 participants');
	const mediasoup = await loadMediasoup();
	const machine = machineInfo(mediasoup.version);
	const sft = await createSft();
	const clients: PlainRtpClient[] = [];
	try {
		const conference = await sft.getOrCreateConference('bench');
		const setupStarted = performance.now();
		for (let i = 0; i < participants; i++) {
			const sends = i < options.senders;
			clients.push(
				await PlainRtpClient.join({
					conference,
					rtpCapabilities: sft.rtpCapabilities,
					name: `p${i}`,
					host: options.listenIp,
					receive: i < options.receivers,
					// Distinct levels keep the loudest-N ranking (and so the expected counts) stable.
					...(sends && options.audioRate > 0 ? { audio: { levelDbov: Math.min(120, 10 + 3 * i), packetsPerSecond: options.audioRate, payloadBytes: options.audioBytes } } : {}),
					...(sends && options.videoRate > 0 ? { video: { packetsPerSecond: options.videoRate, payloadBytes: options.videoBytes, framesPerSecond: options.fps, keyFrameIntervalMs: 2000 } } : {}),
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
		return { config: configOf(participants), machine, ...window.figures() };
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

function configOf(participants: number): ForwardingResult['config'] {
	return {
		senders: options.senders,
		receivers: options.receivers,
		participants,
		durationSeconds: options.duration,
		warmupSeconds: options.warmup,
		audioPacketsPerSecond: options.audioRate,
		audioPayloadBytes: options.audioBytes,
		videoPacketsPerSecond: options.videoRate,
		videoPayloadBytes: options.videoBytes,
		maxAudible: options.maxAudible,
		maxVideos: options.maxVideos,
		workers: options.workers,
	};
}

/** One line per interval: ingress and forwarded packet rates, worker and Node CPU. */
function startProgress(clients: PlainRtpClient[], workers: MediaWorker[]): () => void {
	const started = performance.now();
	let last = { at: started, sent: sentPackets(clients), received: receivedPackets(clients), cpu: process.cpuUsage(), workerCpu: Number.NaN };
	void workerCpuSeconds(workers).then((cpu) => (last.workerCpu = cpu));
	const timer = setInterval(async () => {
		const now = { at: performance.now(), sent: sentPackets(clients), received: receivedPackets(clients), cpu: process.cpuUsage(), workerCpu: await workerCpuSeconds(workers) };
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

main().then(
	(result) => {
		if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
		else log(`\n${markdownReport(result)}`);
		// Workers are closed; do not wait on stray handles.
		setTimeout(() => process.exit(0), 200).unref();
	},
	(error: unknown) => {
		process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
		process.exit(1);
	},
);
