import { Counter, Gauge, type Registry } from 'prom-client';
import { CumulativeCounter } from './CumulativeCounter.ts';
import type { Sft } from './Sft.ts';

/**
 * Prometheus metrics of the media plane. Gauges are computed at scrape time
 * from the object model; byte counters come from mediasoup transport stats
 * polled in the background (getStats is an IPC round trip per transport, too
 * slow to do inside a scrape of a busy server).
 */
export class SftMetrics {
	readonly #sft: Sft;
	readonly #receivedBytes: CumulativeCounter<string>;
	readonly #sentBytes: CumulativeCounter<string>;
	readonly #lastCpu = new Map<string, number>();
	readonly #timer: NodeJS.Timeout;
	#polling = false;

	constructor(sft: Sft, registry: Registry, pollIntervalMs: number) {
		this.#sft = sft;
		const registers = [registry];
		new Gauge({
			name: 'sft_conferences',
			help: 'Conferences hosted',
			registers,
			collect() {
				this.set(sft.conferences.length);
			},
		});
		new Gauge({
			name: 'sft_participants',
			help: 'Participants connected to this SFT',
			registers,
			collect() {
				this.set(sft.conferences.reduce((n, c) => n + c.participants.length, 0));
			},
		});
		const countByKind = (pick: 'producers' | 'consumers') => (gauge: Gauge) => {
			const counts = { audio: 0, video: 0 };
			for (const c of sft.conferences) for (const p of c.participants) for (const x of p[pick]) counts[x.kind]++;
			gauge.set({ kind: 'audio' }, counts.audio);
			gauge.set({ kind: 'video' }, counts.video);
		};
		const producers = countByKind('producers');
		const consumers = countByKind('consumers');
		new Gauge({
			name: 'sft_producers',
			help: 'Streams received from clients',
			labelNames: ['kind'],
			registers,
			collect() {
				producers(this);
			},
		});
		new Gauge({
			name: 'sft_consumers',
			help: 'Streams forwarded to clients',
			labelNames: ['kind'],
			registers,
			collect() {
				consumers(this);
			},
		});
		this.#receivedBytes = new CumulativeCounter(
			new Counter({ name: 'sft_client_received_bytes_total', help: 'Bytes received from clients (all client transports)', registers }),
		);
		this.#sentBytes = new CumulativeCounter(
			new Counter({ name: 'sft_client_sent_bytes_total', help: 'Bytes sent to clients (all client transports)', registers }),
		);
		const lastCpu = this.#lastCpu;
		new Counter({
			name: 'sft_worker_cpu_seconds_total',
			help: 'CPU time used by each mediasoup worker process',
			labelNames: ['worker'],
			registers,
			async collect() {
				for (const w of sft.pool.workers) {
					const { cpuSeconds } = await w.resourceUsage().catch(() => ({ cpuSeconds: 0 }));
					const key = `${w.index}:${w.pid}`;
					const delta = cpuSeconds - (lastCpu.get(key) ?? 0);
					lastCpu.set(key, cpuSeconds);
					if (delta > 0) this.inc({ worker: String(w.index) }, delta);
				}
			},
		});
		new Gauge({
			name: 'sft_worker_resident_memory_bytes',
			help: 'Resident memory of each mediasoup worker process',
			labelNames: ['worker'],
			registers,
			async collect() {
				for (const w of sft.pool.workers) {
					const usage = await w.resourceUsage().catch(() => undefined);
					if (usage) this.set({ worker: String(w.index) }, usage.rssBytes);
				}
			},
		});
		const deaths = new Counter({ name: 'sft_worker_deaths_total', help: 'mediasoup workers that died and were replaced', registers });
		sft.pool.on('workerDied', () => deaths.inc());
		this.#timer = setInterval(() => void this.poll(), pollIntervalMs);
		this.#timer.unref();
	}

	/** Adds the bytes each client transport moved since the last poll. */
	async poll(): Promise<void> {
		if (this.#polling) return;
		this.#polling = true;
		try {
			const transports = this.#sft.conferences.flatMap((c) => c.participants.flatMap((p) => p.transports));
			await Promise.all(
				transports.map(async (transport) => {
					// Every transport type's stats carry these two byte totals.
					const all = (await transport.getStats().catch(() => [])) as { bytesReceived: number; bytesSent: number }[];
					const stats = all[0];
					if (!stats) return;
					this.#receivedBytes.observe(transport.id, {}, stats.bytesReceived);
					this.#sentBytes.observe(transport.id, {}, stats.bytesSent);
				}),
			);
			this.#receivedBytes.endPoll();
			this.#sentBytes.endPoll();
		} finally {
			this.#polling = false;
		}
	}

	close(): void {
		clearInterval(this.#timer);
	}
}
