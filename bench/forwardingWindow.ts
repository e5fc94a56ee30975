import { readFileSync } from 'node:fs';
import type { MediaWorker } from '../sft/MediaWorker.ts';
import { type ForwardingResult, type KindTotals, lossPercent, round } from './forwardingReport.ts';
import type { LocalStream, PlainRtpClient, RemoteStream } from './rtp/plainRtpClient.ts';
import { DelayHistogram } from './rtp/streamStats.ts';

interface Pair {
	receiver: PlainRtpClient;
	stream: RemoteStream;
	activeAtStart: boolean;
}

type WindowFigures = Omit<ForwardingResult, 'config' | 'machine'>;

/**
 * One measurement window. Loss is counted in sender sequence numbers: the
 * packets each producer sent between open and close, against what each
 * receiver whose consumer flowed for the whole window got of exactly those.
 */
export class MeasurementWindow {
	readonly #clients: PlainRtpClient[];
	readonly #workers: MediaWorker[];
	readonly #pairs: Pair[];
	readonly #seqFrom = new Map<string, number>();
	readonly #seqTo = new Map<string, number>();
	readonly #unstable = new Set<string>();
	readonly #unsubscribe: (() => void)[] = [];
	readonly #startedAt = performance.now();
	readonly #nodeCpuFrom = process.cpuUsage();
	readonly #bytesFrom: number;
	readonly #skippedFrom: number;
	readonly #udpDropsFrom = udpReceiveBufferErrors();
	readonly #machineFrom = machineCpuTicks();
	#udpDrops = 0;
	#machineBusy = 0;
	#workerCpuFrom = 0;
	#closedAt = 0;
	#nodeCpu = { user: 0, system: 0 };
	#workerCpu = 0;
	#workerRss = 0;
	#bytesTo = 0;

	private constructor(clients: PlainRtpClient[], workers: MediaWorker[]) {
		this.#clients = clients;
		this.#workers = workers;
		for (const client of clients) {
			for (const local of localStreams(client)) this.#seqFrom.set(local.producer.id, local.sender.sent);
			client.delay.reset();
			const onChange = (consumerId: string) => this.#unstable.add(consumerId);
			client.participant.on('consumerPausedChanged', onChange);
			this.#unsubscribe.push(() => client.participant.off('consumerPausedChanged', onChange));
		}
		this.#pairs = clients.flatMap((receiver) =>
			receiver.remoteStreams.map((stream) => ({ receiver, stream, activeAtStart: flowing(stream) })),
		);
		this.#bytesFrom = receivedBytes(clients);
		this.#skippedFrom = skipped(clients);
	}

	static async open(clients: PlainRtpClient[], workers: MediaWorker[]): Promise<MeasurementWindow> {
		const window = new MeasurementWindow(clients, workers);
		window.#workerCpuFrom = await workerCpuSeconds(workers);
		return window;
	}

	/** Ends the window (before senders stop); counting happens later in figures(), after in-flight packets land. */
	async close(): Promise<void> {
		this.#closedAt = performance.now();
		for (const client of this.#clients) for (const local of localStreams(client)) this.#seqTo.set(local.producer.id, local.sender.sent);
		this.#bytesTo = receivedBytes(this.#clients);
		this.#nodeCpu = process.cpuUsage(this.#nodeCpuFrom);
		this.#udpDrops = udpReceiveBufferErrors() - this.#udpDropsFrom;
		const machine = machineCpuTicks();
		const total = machine.total - this.#machineFrom.total;
		this.#machineBusy = total > 0 ? (machine.busy - this.#machineFrom.busy) / total : 0;
		const usage = await Promise.all(this.#workers.map((w) => w.resourceUsage()));
		this.#workerCpu = usage.reduce((n, u) => n + u.cpuSeconds, 0) - this.#workerCpuFrom;
		this.#workerRss = usage.reduce((n, u) => n + u.rssBytes, 0);
		for (const off of this.#unsubscribe) off();
	}

	figures(): WindowFigures {
		const seconds = (this.#closedAt - this.#startedAt) / 1000;
		const kinds = { audio: { expected: 0, received: 0 }, video: { expected: 0, received: 0 } };
		let measured = 0;
		let excluded = 0;
		for (const { stream, activeAtStart } of this.#pairs) {
			const stable = activeAtStart && flowing(stream) && !this.#unstable.has(stream.consumer.id);
			if (!stable) {
				// Paused for the whole window is expected (not selected); only flips are "excluded".
				if (activeAtStart !== flowing(stream) || this.#unstable.has(stream.consumer.id)) excluded++;
				continue;
			}
			const from = this.#seqFrom.get(stream.producerId) ?? 0;
			const to = this.#seqTo.get(stream.producerId) ?? from;
			kinds[stream.kind].expected += to - from;
			kinds[stream.kind].received += stream.counter.seqs.countRange(from, to);
			measured++;
		}
		const expected = kinds.audio.expected + kinds.video.expected;
		const received = kinds.audio.received + kinds.video.received;
		let ingress = 0;
		for (const [producerId, to] of this.#seqTo) ingress += to - (this.#seqFrom.get(producerId) ?? to);
		const delay = new DelayHistogram();
		for (const client of this.#clients) delay.merge(client.delay);
		const totals = (k: { expected: number; received: number }): KindTotals => ({ ...k, lossPercent: lossPercent(k.expected, k.received) });
		return {
			windowSeconds: round(seconds, 2),
			consumers: this.#pairs.length,
			measuredPairs: measured,
			excludedPairs: excluded,
			ingressPacketsPerSecond: round(ingress / seconds),
			forwardedPacketsPerSecond: round(received / seconds),
			forwardedMbitPerSecond: round(((this.#bytesTo - this.#bytesFrom) * 8) / seconds / 1e6, 2),
			expected,
			received,
			lossPercent: lossPercent(expected, received),
			byKind: { audio: totals(kinds.audio), video: totals(kinds.video) },
			delayMs: {
				p50: delay.percentile(50) ?? null,
				p99: delay.percentile(99) ?? null,
				max: delay.count > 0 ? round(delay.maxMs, 2) : null,
			},
			worker: { cpuPercent: round((this.#workerCpu / seconds) * 100), rssMB: round(this.#workerRss / 2 ** 20) },
			node: {
				cpuPercent: round(((this.#nodeCpu.user + this.#nodeCpu.system) / 1e6 / seconds) * 100),
				rssMB: round(process.memoryUsage.rss() / 2 ** 20),
			},
			kernelUdpDrops: this.#udpDrops,
			machineBusyPercent: round(this.#machineBusy * 100),
			senderSkipped: skipped(this.#clients) - this.#skippedFrom,
			duplicates: this.#clients.reduce((n, c) => n + c.remoteStreams.reduce((m, s) => m + s.counter.duplicates, 0), 0),
			unknownPackets: this.#clients.reduce((n, c) => n + c.unknownPackets, 0),
			clientErrors: this.#clients.reduce((n, c) => n + c.errors.length, 0),
		};
	}
}

function flowing(stream: RemoteStream): boolean {
	return !stream.consumer.closed && !stream.consumer.paused && !stream.consumer.producerPaused;
}

function localStreams(client: PlainRtpClient): LocalStream[] {
	return [client.audio, client.video].filter((l): l is LocalStream => l !== undefined);
}

export function receivedPackets(clients: PlainRtpClient[]): number {
	return clients.reduce((n, c) => n + c.remoteStreams.reduce((m, s) => m + s.counter.packets, 0), 0);
}

function receivedBytes(clients: PlainRtpClient[]): number {
	return clients.reduce((n, c) => n + c.remoteStreams.reduce((m, s) => m + s.counter.bytes, 0), 0);
}

export function sentPackets(clients: PlainRtpClient[]): number {
	return clients.reduce((n, c) => n + c.senders.reduce((m, s) => m + s.sent, 0), 0);
}

function skipped(clients: PlainRtpClient[]): number {
	return clients.reduce((n, c) => n + c.senders.reduce((m, s) => m + s.skipped, 0), 0);
}

export async function workerCpuSeconds(workers: MediaWorker[]): Promise<number> {
	const usage = await Promise.all(workers.map((w) => w.resourceUsage()));
	return usage.reduce((n, u) => n + u.cpuSeconds, 0);
}

/** Datagrams the kernel dropped machine-wide because a receive buffer was full (Linux; 0 elsewhere). */
function udpReceiveBufferErrors(): number {
	try {
		const lines = readFileSync('/proc/net/snmp', 'utf8')
			.split('\n')
			.filter((l) => l.startsWith('Udp:'));
		const names = lines[0]?.split(/\s+/) ?? [];
		const values = lines[1]?.split(/\s+/) ?? [];
		return Number(values[names.indexOf('RcvbufErrors')] ?? 0);
	} catch {
		return 0;
	}
}

/** Busy and total jiffies of all cores from /proc/stat (Linux; zeros elsewhere). */
function machineCpuTicks(): { busy: number; total: number } {
	try {
		const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
		const total = fields.reduce((n, v) => n + v, 0);
		const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
		return { busy: total - idle, total };
	} catch {
		return { busy: 0, total: 0 };
	}
}
