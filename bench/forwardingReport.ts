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
		/** Conferences the participants are spread over (all on one worker unless `workers` > 1). */
		conferences: number;
		workers: number;
		/** The video each sender publishes: profile name and layers (lowest first). */
		profile: {
			name: string;
			layers: { width: number; height: number; bitrate: number; framesPerSecond: number; temporalLayers: number }[];
		};
		/** What receivers view: a speaker layout's tile sizes, or the SFT's default view (no sizes). */
		view: string;
		/** Senders stop layers nobody needs (`encodingsNeeded`). */
		followEncodingHints: boolean;
	};
	/** loadAverage: 1-minute load when the run started; other work on the machine skews every figure. */
	machine: { cpus: number; cpuModel: string; node: string; mediasoup: string; loadAverage: number };
	windowSeconds: number;
	consumers: number;
	/** Receiver/stream pairs that were flowing for the whole window (the loss base). */
	measuredPairs: number;
	/** Pairs left out because selection paused or resumed them, or their layer changed, during the window. */
	excludedPairs: number;
	/** Measured video pairs by the encoding they were forwarded (0 = lowest layer). */
	videoPairsByLayer: Record<string, number>;
	ingressPacketsPerSecond: number;
	/** RTP bits/s all senders put on the wire (every layer). */
	publishedMbitPerSecond: number;
	forwardedPacketsPerSecond: number;
	forwardedMbitPerSecond: number;
	expected: number;
	received: number;
	lossPercent: number;
	byKind: { audio: KindTotals; video: KindTotals };
	delayMs: { p50: number | null; p99: number | null; max: number | null };
	/** channelMs: slowest answer to a control request (the channel joins, views and layer choices go through) during the window. */
	worker: { cpuPercent: number; rssMB: number; channelMs: number };
	/** The Node process runs the load clients and the SFT's control plane; event loop busy near 100 % means the clients fall behind. */
	node: { cpuPercent: number; eventLoopBusyPercent: number; rssMB: number };
	/**
	 * Whole machine busy during the window, % of all cores together. Well above
	 * (worker + Node) / cores means other work competed for the CPU.
	 */
	machineBusyPercent: number;
	/** UDP datagrams the kernel dropped for full receive buffers during the window (machine-wide). */
	kernelUdpDrops: number;
	/** ... of which on the load clients' sockets and on the SFT's transports (the rest: other processes). */
	udpDrops: { loadClients: number; sft: number };
	/** Packets the senders' schedule dropped after event-loop stalls (sender side, not SFT loss). */
	senderSkipped: number;
	/** Times a receiver's packets came from another encoding (first packets included), and how many of those did not start on a key frame (must be 0). */
	layerSwitches: number;
	layerSwitchesNotOnKeyFrame: number;
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
		['participants (senders × receivers)', `${c.participants} (${c.senders} × ${c.receivers}) in ${c.conferences} conference(s)`],
		['per sender', `Opus ${c.audioPacketsPerSecond} pkt/s × ${c.audioPayloadBytes} B, ${profileSummary(c.profile)}`],
		['selection limits, view', `${c.maxAudible} loudest audible, ${c.maxVideos} videos; ${c.view}`],
		['measured window', `${r.windowSeconds} s after ${c.warmupSeconds} s warm-up`],
		['consumers (flowing pairs measured / excluded)', `${r.consumers} (${r.measuredPairs} / ${r.excludedPairs})`],
		['measured video pairs by layer', layerSummary(r.videoPairsByLayer)],
		['ingress to SFT', `${r.ingressPacketsPerSecond} pkt/s, ${r.publishedMbitPerSecond} Mbit/s`],
		['forwarded (received by all receivers)', `${r.forwardedPacketsPerSecond} pkt/s, ${r.forwardedMbitPerSecond} Mbit/s`],
		['expected vs received', `${r.expected} vs ${r.received}`],
		['loss', `${r.lossPercent} % (audio ${r.byKind.audio.lossPercent} %, video ${r.byKind.video.lossPercent} %)`],
		['one-way delay p50 / p99 / max', `${ms(r.delayMs.p50)} / ${ms(r.delayMs.p99)} / ${ms(r.delayMs.max)}`],
		['worker CPU (% of one core)', `${r.worker.cpuPercent} % (${workerMicrosPerPacket(r)} µs per packet in or out)`],
		['worker RSS, slowest control answer', `${r.worker.rssMB} MB, ${r.worker.channelMs} ms`],
		['Node process CPU (clients + control), event loop busy', `${r.node.cpuPercent} %, ${r.node.eventLoopBusyPercent} %`],
		['Node process RSS', `${r.node.rssMB} MB`],
		['whole machine busy (all cores)', `${r.machineBusyPercent} %`],
		['kernel UDP receive-buffer drops (load clients / SFT)', `${r.kernelUdpDrops} (${r.udpDrops.loadClients} / ${r.udpDrops.sft})`],
		['layer switches (not on a key frame)', `${r.layerSwitches} (${r.layerSwitchesNotOnKeyFrame})`],
		['sender-side skipped / duplicates / unknown', `${r.senderSkipped} / ${r.duplicates} / ${r.unknownPackets}`],
	];
	const m = r.machine;
	return [
		table(['metric', 'value'], rows),
		'',
		`Machine: ${m.cpus} × ${m.cpuModel}, Node ${m.node}, mediasoup ${m.mediasoup}, load average ${m.loadAverage} at start.`,
	].join('\n');
}

/** Side by side runs of the same load with different profiles, with each one's ratio to the first. */
export function comparisonReport(results: readonly ForwardingResult[]): string {
	const [base] = results;
	if (!base) return '';
	const metrics: [string, (r: ForwardingResult) => number][] = [
		['ingress pkt/s', (r) => r.ingressPacketsPerSecond],
		['published Mbit/s', (r) => r.publishedMbitPerSecond],
		['forwarded pkt/s', (r) => r.forwardedPacketsPerSecond],
		['forwarded Mbit/s', (r) => r.forwardedMbitPerSecond],
		['loss %', (r) => r.lossPercent],
		['worker CPU % (one core)', (r) => r.worker.cpuPercent],
		['worker µs per packet', workerMicrosPerPacket],
		['worker RSS MB', (r) => r.worker.rssMB],
		['Node CPU %', (r) => r.node.cpuPercent],
	];
	const names = results.map((r) => r.config.profile.name);
	const ratioNames = results.slice(1).map((r) => `${r.config.profile.name} / ${base.config.profile.name}`);
	const rows = metrics.map(([label, of]): string[] => [
		label,
		...results.map((r) => String(of(r))),
		...results.slice(1).map((r) => (of(base) > 0 ? String(round(of(r) / of(base), 3)) : 'n/a')),
	]);
	return table(['metric', ...names, ...ratioNames], rows);
}

/** Worker CPU per packet it handled (received from senders plus forwarded to receivers). */
export function workerMicrosPerPacket(r: ForwardingResult): number {
	const packets = r.ingressPacketsPerSecond + r.forwardedPacketsPerSecond;
	return packets > 0 ? round(((r.worker.cpuPercent / 100) * 1e6) / packets, 2) : 0;
}

function profileSummary(p: ForwardingResult['config']['profile']): string {
	const layers = p.layers.map(
		(l) => `${l.width}×${l.height} ${round(l.bitrate / 1e6, 2)} Mbit/s ${l.framesPerSecond} fps L1T${l.temporalLayers}`,
	);
	return `VP8 \`${p.name}\`: ${layers.join(' + ')}`;
}

function layerSummary(byLayer: Record<string, number>): string {
	const entries = Object.entries(byLayer).sort(([a], [b]) => Number(a) - Number(b));
	return entries.length > 0 ? entries.map(([layer, n]) => `layer ${layer}: ${n}`).join(', ') : 'none';
}

/** A markdown table with padded first column. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
	const width = Math.max(header[0]?.length ?? 0, ...rows.map((r) => r[0]?.length ?? 0));
	const line = (cells: readonly string[]) => `| ${cells.map((cell, i) => (i === 0 ? cell.padEnd(width) : cell)).join(' | ')} |`;
	return [
		line(header),
		line(header.map((h, i) => (i === 0 ? '-'.repeat(width) : '-'.repeat(Math.max(3, h.length))))),
		...rows.map(line),
	].join('\n');
}
