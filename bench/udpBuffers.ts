// Kernel drops at the SFTs' UDP sockets with the kernel's default buffers
// against the configured ones, side by side in one run under the same CPU
// contention: `npm run bench:buffers`.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import type { Conference } from '../sft/Conference.ts';
import { int, seconds } from './cliArguments.ts';
import { FederatedSfts } from './federatedSfts.ts';
import { PlainRtpClient } from './rtp/plainRtpClient.ts';

const options = new Command()
	.name('bench:buffers')
	.description(
		'Two 2-domain federations with the same load at the same time: kernel-default UDP buffers vs media.udpRecvBufferBytes/udpSendBufferBytes',
	)
	.option('-m, --participants <n>', 'participants per domain (each sends Opus + VP8 and receives everyone)', int(1), 4)
	.option('-d, --duration <s>', 'measured window, seconds', seconds, 20)
	.option('--burn <n>', 'busy-loop processes that contend for the CPU during the window', int(0), 2)
	.option(
		'--stall <ms>',
		'every second, stop every SFT worker this long (SIGSTOP/SIGCONT), as a descheduled process is; 0 = off',
		int(0),
		150,
	)
	.option('--buffer-bytes <n>', 'the configured buffer size to compare with the kernel default', int(0), 4_194_304)
	.option('--json', 'print the result as JSON')
	.parse()
	.opts<{ participants: number; duration: number; burn: number; stall: number; bufferBytes: number; json?: boolean }>();

interface Setup {
	label: string;
	bytes: number;
	sfts: FederatedSfts;
	clients: PlainRtpClient[];
	/** UDP ports of the SFTs' sockets (WebRTC, plain, pipes). */
	ports: { min: number; max: number };
}

const DOMAINS = ['a.buf', 'b.buf'];

async function setUp(label: string, bytes: number, basePort: number): Promise<Setup> {
	const portsPerDomain = 2 * options.participants + 20;
	const sfts = await FederatedSfts.start({
		domains: DOMAINS,
		listenIp: '127.0.0.1',
		maxVideos: 9,
		maxAudible: 5,
		portsPerDomain,
		basePort,
		media: { udpRecvBufferBytes: bytes, udpSendBufferBytes: bytes },
	});
	const anchor = sfts.server('a.buf');
	const conference = await anchor.sft.getOrCreateConference('buffers');
	const hub = anchor.hub;
	const partner = sfts.server('b.buf');
	if (!hub || !partner.hub) throw new Error('federation is off');
	const conferences = new Map<string, Conference>([
		['a.buf', conference],
		['b.buf', await partner.hub.joinWithDescriptor(hub.descriptorFor(conference))],
	]);
	const clients: PlainRtpClient[] = [];
	let g = 0;
	for (let i = 0; i < options.participants; i++) {
		for (const domain of DOMAINS) {
			const server = sfts.server(domain);
			const joined = conferences.get(domain);
			if (!joined) throw new Error(domain);
			clients.push(
				await PlainRtpClient.join({
					conference: joined,
					rtpCapabilities: server.sft.rtpCapabilities,
					name: `${label}-${domain}-${i}`,
					audio: { levelDbov: 10 + 3 * g++ },
					video: { packetsPerSecond: 300, payloadBytes: 1100, framesPerSecond: 30, keyFrameIntervalMs: 2000 },
				}),
			);
		}
	}
	return { label, bytes, sfts, clients, ports: { min: basePort, max: basePort + portsPerDomain * DOMAINS.length - 1 } };
}

/** Drops per local UDP port from /proc/net/udp (the last column counts datagrams the socket's full buffer refused). */
function socketDrops(): Map<number, number> {
	const drops = new Map<number, number>();
	for (const line of readFileSync('/proc/net/udp', 'utf8').split('\n').slice(1)) {
		const fields = line.trim().split(/\s+/);
		const local = fields[1];
		const dropped = Number(fields[fields.length - 1]);
		if (!local || !Number.isFinite(dropped)) continue;
		const port = Number.parseInt(local.split(':')[1] ?? '', 16);
		drops.set(port, (drops.get(port) ?? 0) + dropped);
	}
	return drops;
}

function dropsIn(drops: Map<number, number>, range: { min: number; max: number }): number {
	let total = 0;
	for (const [port, n] of drops) if (port >= range.min && port <= range.max) total += n;
	return total;
}

function rcvbufErrors(): number {
	const lines = readFileSync('/proc/net/snmp', 'utf8')
		.split('\n')
		.filter((l) => l.startsWith('Udp:'));
	const [header, values] = lines.map((l) => l.split(/\s+/));
	return Number(values?.[header?.indexOf('RcvbufErrors') ?? -1] ?? 0);
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}

const base = 47_000 + Math.floor(Math.random() * 20) * 100;
const setups = [await setUp('kernel default', 0, base), await setUp('configured', options.bufferBytes, base + 1000)];
const burners = Array.from({ length: options.burn }, () =>
	spawn(process.execPath, ['-e', 'const end = Date.now() + 600000; while (Date.now() < end) {}'], { stdio: 'ignore' }),
);
const workerPids = setups.flatMap((s) => [...s.sfts.servers.values()].flatMap((server) => server.sft.pool.workers.map((w) => w.pid)));
const signalWorkers = (signal: NodeJS.Signals) => {
	for (const pid of workerPids) process.kill(pid, signal);
};
const staller =
	options.stall > 0
		? setInterval(() => {
				signalWorkers('SIGSTOP');
				setTimeout(() => signalWorkers('SIGCONT'), options.stall);
			}, 1000)
		: undefined;
try {
	for (const s of setups) for (const c of s.clients) c.startSending();
	await sleep(3000);
	const dropsFrom = socketDrops();
	const snmpFrom = rcvbufErrors();
	const sentFrom = setups.map((s) => s.clients.reduce((n, c) => n + c.senders.reduce((m, x) => m + x.sent, 0), 0));
	await sleep(options.duration * 1000);
	const dropsTo = socketDrops();
	const snmpTo = rcvbufErrors();
	const rows = setups.map((s, i) => {
		const sent = s.clients.reduce((n, c) => n + c.senders.reduce((m, x) => m + x.sent, 0), 0) - (sentFrom[i] ?? 0);
		return {
			setting: s.label,
			bufferBytes: s.bytes,
			sentPackets: sent,
			sftSocketDrops: dropsIn(dropsTo, s.ports) - dropsIn(dropsFrom, s.ports),
		};
	});
	const result = {
		participantsPerDomain: options.participants,
		seconds: options.duration,
		burners: options.burn,
		stallMs: options.stall,
		machineRcvbufErrors: snmpTo - snmpFrom,
		rows,
	};
	if (options.json) console.log(JSON.stringify(result, null, 2));
	else {
		console.log(
			`\n${options.participants} + ${options.participants} participants per federation, ${options.duration} s, ${options.burn} busy loops, workers stopped ${options.stall} ms every second; machine-wide RcvbufErrors in the window: ${result.machineRcvbufErrors}`,
		);
		console.log("| setting | buffer bytes | packets sent by clients | drops at the SFTs' sockets |");
		console.log('| --- | --- | --- | --- |');
		for (const r of rows)
			console.log(`| ${r.setting} | ${r.bufferBytes || 'kernel (rmem_default)'} | ${r.sentPackets} | ${r.sftSocketDrops} |`);
	}
} finally {
	clearInterval(staller);
	signalWorkers('SIGCONT');
	for (const b of burners) b.kill('SIGKILL');
	for (const s of setups) {
		await Promise.allSettled(s.clients.map((c) => c.stop()));
		await s.sfts.close();
	}
}
process.exit(0);
