import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import type { MediaLoadConfig } from './cliArguments.ts';

export interface KindTotals {
	expected: number;
	received: number;
	lossPercent: number;
}

/** Everything `npm run bench:forwarding` measures; also the `--json` output. */
export interface ForwardingResult {
	config: MediaLoadConfig & {
		senders: number;
		receivers: number;
		participants: number;
		workers: number;
	};
	/** loadAverage: 1-minute load when the run started; other work on the machine skews every figure. */
	machine: { cpus: number; cpuModel: string; node: string; mediasoup: string; loadAverage: number };
	windowSeconds: number;
	consumers: number;
	/** Receiver/stream pairs that were flowing for the whole window (the loss base). */
	measuredPairs: number;
	/** Pairs left out because selection paused or resumed them during the window. */
	excludedPairs: number;
	ingressPacketsPerSecond: number;
	forwardedPacketsPerSecond: number;
	forwardedMbitPerSecond: number;
	expected: number;
	received: number;
	lossPercent: number;
	byKind: { audio: KindTotals; video: KindTotals };
	delayMs: { p50: number | null; p99: number | null; max: number | null };
	worker: { cpuPercent: number; rssMB: number };
	node: { cpuPercent: number; rssMB: number };
	/**
	 * Whole machine busy during the window, % of all cores together. Well above
	 * (worker + Node) / cores means other work competed for the CPU.
	 */
	machineBusyPercent: number;
	/** UDP datagrams the kernel dropped for full receive buffers during the window (machine-wide). */
	kernelUdpDrops: number;
	/** Packets the senders' schedule dropped after event-loop stalls (sender side, not SFT loss). */
	senderSkipped: number;
	duplicates: number;
	unknownPackets: number;
	clientErrors: number;
}

export function lossPercent(expected: number, received: number): number {
	return expected > 0 ? round(Math.max(0, (1 - received / expected) * 100), 3) : 0;
}

export function round(value: number, digits = 1): number {
	const f = 10 ** digits;
	return Math.round(value * f) / f;
}

export function machineInfo(mediasoupVersion: string): ForwardingResult['machine'] {
	let cpuModel = cpus()[0]?.model ?? 'unknown';
	try {
		cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? cpuModel;
	} catch {
		// not Linux: os.cpus() is good enough
	}
	return { cpus: cpus().length, cpuModel, node: process.version, mediasoup: mediasoupVersion, loadAverage: round(loadavg()[0] ?? 0, 2) };
}

export function markdownReport(r: ForwardingResult): string {
	const c = r.config;
	const ms = (v: number | null) => (v === null ? 'n/a' : `${round(v, 2)} ms`);
	const rows: [string, string][] = [
		['participants (senders × receivers)', `${c.participants} (${c.senders} × ${c.receivers})`],
		[
			'per sender',
			`Opus ${c.audioPacketsPerSecond} pkt/s × ${c.audioPayloadBytes} B, VP8 ${c.videoPacketsPerSecond} pkt/s × ${c.videoPayloadBytes} B`,
		],
		['selection limits', `${c.maxAudible} loudest audible, ${c.maxVideos} videos`],
		['measured window', `${r.windowSeconds} s after ${c.warmupSeconds} s warm-up`],
		['consumers (flowing pairs measured / excluded)', `${r.consumers} (${r.measuredPairs} / ${r.excludedPairs})`],
		['ingress to SFT', `${r.ingressPacketsPerSecond} pkt/s`],
		['forwarded (received by all receivers)', `${r.forwardedPacketsPerSecond} pkt/s, ${r.forwardedMbitPerSecond} Mbit/s`],
		['expected vs received', `${r.expected} vs ${r.received}`],
		['loss', `${r.lossPercent} % (audio ${r.byKind.audio.lossPercent} %, video ${r.byKind.video.lossPercent} %)`],
		['one-way delay p50 / p99 / max', `${ms(r.delayMs.p50)} / ${ms(r.delayMs.p99)} / ${ms(r.delayMs.max)}`],
		['worker CPU (% of one core)', `${r.worker.cpuPercent} %`],
		['worker RSS', `${r.worker.rssMB} MB`],
		['Node process CPU (clients + control)', `${r.node.cpuPercent} %`],
		['Node process RSS', `${r.node.rssMB} MB`],
		['whole machine busy (all cores)', `${r.machineBusyPercent} %`],
		['kernel UDP receive-buffer drops', `${r.kernelUdpDrops}`],
		['sender-side skipped / duplicates / unknown', `${r.senderSkipped} / ${r.duplicates} / ${r.unknownPackets}`],
	];
	const width = Math.max(...rows.map(([k]) => k.length));
	const lines = [`| ${'metric'.padEnd(width)} | value |`, `| ${'-'.repeat(width)} | ----- |`];
	for (const [k, v] of rows) lines.push(`| ${k.padEnd(width)} | ${v} |`);
	const m = r.machine;
	lines.push('', `Machine: ${m.cpus} × ${m.cpuModel}, Node ${m.node}, mediasoup ${m.mediasoup}, load average ${m.loadAverage} at start.`);
	return lines.join('\n');
}
