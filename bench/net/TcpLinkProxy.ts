import type { AddressInfo } from 'node:net';
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Forwarding {
	inbound: Socket;
	outbound: Socket | undefined;
}

/**
 * A user-space TCP path to `target` (e.g. a partner SFT's federation port)
 * that can be black-holed: while it is, nothing crosses in either direction
 * and new connections hang as if their SYNs were lost; when it comes back,
 * held data and connection attempts go through, as TCP retransmission would
 * deliver them. Endpoints that gave up meanwhile (heartbeats) see their peer
 * reset.
 */
export class TcpLinkProxy {
	readonly #server: Server;
	readonly #target: { host: string; port: number };
	readonly #connections = new Set<Forwarding>();
	#blackholed = false;
	/** Connections that ended during an outage: their end reaches the other side only when the path is back. */
	readonly #endedInOutage = new Set<Forwarding>();

	private constructor(server: Server, target: { host: string; port: number }) {
		this.#server = server;
		this.#target = target;
		server.on('connection', (inbound) => this.#accept(inbound));
	}

	static async start(bindIp: string, target: { host: string; port: number }): Promise<TcpLinkProxy> {
		const server = createServer();
		await new Promise<void>((resolve) => server.listen(0, bindIp, () => resolve()));
		return new TcpLinkProxy(server, target);
	}

	get port(): number {
		return (this.#server.address() as AddressInfo).port;
	}

	get blackholed(): boolean {
		return this.#blackholed;
	}

	/** Starts or ends the outage. */
	setBlackholed(on: boolean): void {
		if (this.#blackholed === on) return;
		this.#blackholed = on;
		for (const forwarding of this.#connections) {
			if (on) {
				forwarding.inbound.pause();
				forwarding.outbound?.pause();
			} else if (!forwarding.outbound) {
				this.#open(forwarding);
			} else {
				forwarding.inbound.resume();
				forwarding.outbound.resume();
			}
		}
		if (!on) for (const forwarding of this.#endedInOutage) this.#drop(forwarding);
		this.#endedInOutage.clear();
	}

	/** Cuts every open connection (a reset, as after a partner's restart). */
	resetAll(): void {
		for (const { inbound, outbound } of this.#connections) {
			inbound.destroy();
			outbound?.destroy();
		}
		this.#connections.clear();
	}

	async close(): Promise<void> {
		this.resetAll();
		await new Promise<void>((resolve) => this.#server.close(() => resolve()));
	}

	#accept(inbound: Socket): void {
		const forwarding: Forwarding = { inbound, outbound: undefined };
		this.#connections.add(forwarding);
		inbound.on('error', () => this.#drop(forwarding));
		inbound.on('close', () => this.#drop(forwarding));
		inbound.pause();
		if (!this.#blackholed) this.#open(forwarding);
	}

	#open(forwarding: Forwarding): void {
		const { inbound } = forwarding;
		if (inbound.destroyed) return;
		const outbound = connect(this.#target.port, this.#target.host);
		forwarding.outbound = outbound;
		outbound.on('error', () => this.#drop(forwarding));
		outbound.on('close', () => this.#drop(forwarding));
		// Plain writes, no pipe(): pipe's backpressure handling would resume a paused (black-holed) side.
		inbound.on('data', (data) => outbound.write(data));
		outbound.on('data', (data) => inbound.write(data));
		inbound.on('end', () => outbound.end());
		outbound.on('end', () => inbound.end());
		inbound.resume();
	}

	#drop(forwarding: Forwarding): void {
		if (this.#blackholed) {
			this.#endedInOutage.add(forwarding);
			return;
		}
		if (!this.#connections.delete(forwarding)) return;
		forwarding.inbound.destroy();
		forwarding.outbound?.destroy();
	}
}
