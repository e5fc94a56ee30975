import { ImpairedUdpLink, type UdpEndpoint } from '../../bench/net/ImpairedUdpLink.ts';
import { type Impairment, ImpairmentModel, seededRandom } from '../../bench/net/impairment.ts';
import { TcpLinkProxy } from '../../bench/net/TcpLinkProxy.ts';
import type { PipeEndpoint } from '../../sft/MediaRelay.ts';

/**
 * The network between two domains' SFTs, in user space: a TCP proxy per
 * dialling direction for the federation link, and an impaired UDP wire per
 * pipe (created on demand by the SFTs' pipe-endpoint hook). Impairments and
 * outages apply to all of them at once.
 */
export class NetworkPath {
	readonly domains: readonly [string, string];
	readonly #tcp = new Map<string, TcpLinkProxy>();
	readonly #udp = new Map<string, Promise<ImpairedUdpLink>>();
	#impairment: Impairment = {};
	#seed: number;
	/** Totals of wires already closed, so stats survive reaping. */
	readonly #retired = { received: 0, dropped: 0 };
	readonly #reaper: NodeJS.Timeout;

	constructor(domains: [string, string], seed = 1) {
		this.domains = domains;
		this.#seed = seed;
		// Pipes come and go (link flaps, worker deaths): close wires nobody used for a while.
		this.#reaper = setInterval(() => void this.closeIdleWires(IDLE_WIRE_MS), IDLE_WIRE_MS / 2);
		this.#reaper.unref();
	}

	/** Closes the wires that carried nothing for `idleMs` (their pipes are gone). */
	async closeIdleWires(idleMs: number): Promise<void> {
		const now = performance.now();
		for (const [pairKey, pending] of this.#udp) {
			const link = await pending;
			if (now - link.lastActivityMs < idleMs || this.#udp.get(pairKey) !== pending) continue;
			this.#udp.delete(pairKey);
			this.#retired.received += link.stats.aToB.received + link.stats.bToA.received;
			this.#retired.dropped += link.stats.aToB.dropped + link.stats.bToA.dropped;
			link.close();
		}
	}

	/** Starts the proxy `from` dials to reach `to`'s federation listener; returns its port. */
	async addDialler(from: string, to: { domain: string; host: string; port: number }): Promise<number> {
		const proxy = await TcpLinkProxy.start('127.0.0.1', { host: to.host, port: to.port });
		this.#tcp.set(`${from}>${to.domain}`, proxy);
		return proxy.port;
	}

	get impairment(): Impairment {
		return this.#impairment;
	}

	/** Loss, delay, jitter, reordering of the media (both ways, every pipe of the pair). */
	async impair(impairment: Impairment): Promise<void> {
		this.#impairment = impairment;
		for (const link of this.#udp.values()) (await link).impair(impairment);
	}

	/** Black-holes (or restores) the whole path: the federation TCP link and every pipe. */
	async setDown(down: boolean): Promise<void> {
		await this.impair({ ...this.#impairment, down });
		for (const proxy of this.#tcp.values()) proxy.setBlackholed(down);
	}

	get down(): boolean {
		return this.#impairment.down === true;
	}

	/** Media packets carried and dropped on every pipe of the pair so far. */
	async mediaStats(): Promise<{ received: number; dropped: number }> {
		const total = { ...this.#retired };
		for (const pending of this.#udp.values()) {
			const { stats } = await pending;
			total.received += stats.aToB.received + stats.bToA.received;
			total.dropped += stats.aToB.dropped + stats.bToA.dropped;
		}
		return total;
	}

	/** Where `local` should send to reach `remote`: its side of the pair's wire (created on first use). */
	async route(local: PipeEndpoint, remote: PipeEndpoint): Promise<UdpEndpoint> {
		const [a, b] = [local, remote].sort((x, y) => key(x).localeCompare(key(y))) as [PipeEndpoint, PipeEndpoint];
		const pairKey = `${key(a)}|${key(b)}`;
		let pending = this.#udp.get(pairKey);
		if (!pending) {
			const seed = this.#seed++;
			pending = ImpairedUdpLink.start('127.0.0.1', a, b, {
				aToB: new ImpairmentModel(this.#impairment, seededRandom(seed * 2)),
				bToA: new ImpairmentModel(this.#impairment, seededRandom(seed * 2 + 1)),
			});
			this.#udp.set(pairKey, pending);
		}
		const link = await pending;
		return { ip: '127.0.0.1', port: local === a ? link.portForA : link.portForB };
	}

	async close(): Promise<void> {
		clearInterval(this.#reaper);
		for (const proxy of this.#tcp.values()) await proxy.close();
		for (const link of this.#udp.values()) (await link).close();
		this.#udp.clear();
	}
}

/** A pipe wire without packets for this long is closed (its pipes are gone). */
const IDLE_WIRE_MS = 30_000;

function key(endpoint: { ip: string; port: number }): string {
	return `${endpoint.ip}:${String(endpoint.port).padStart(5, '0')}`;
}
