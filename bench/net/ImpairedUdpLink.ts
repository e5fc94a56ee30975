import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';
import { type Impairment, ImpairmentModel } from './impairment.ts';

export interface UdpEndpoint {
	ip: string;
	port: number;
}

/** Packets one direction of a link carried and dropped. */
export interface DirectionStats {
	received: number;
	dropped: number;
}

/**
 * A user-space UDP wire between two endpoints A and B that each send to one
 * of its ports (pipe transports only accept packets from the address they
 * connected to, so each side sees the proxy as its partner). Each direction
 * applies its own impairment.
 */
export class ImpairedUdpLink {
	readonly aToB: ImpairmentModel;
	readonly bToA: ImpairmentModel;
	readonly stats = { aToB: { received: 0, dropped: 0 } as DirectionStats, bToA: { received: 0, dropped: 0 } as DirectionStats };
	readonly #sideA: Socket;
	readonly #sideB: Socket;
	readonly #timers = new Set<NodeJS.Timeout>();
	#closed = false;
	/** performance.now() of the last packet either way. */
	lastActivityMs = performance.now();

	private constructor(sideA: Socket, sideB: Socket, aToB: ImpairmentModel, bToA: ImpairmentModel) {
		this.#sideA = sideA;
		this.#sideB = sideB;
		this.aToB = aToB;
		this.bToA = bToA;
	}

	/** `targetA`/`targetB`: where the real endpoints listen; A sends to `portForA`, B to `portForB`. */
	static async start(
		bindIp: string,
		targetA: UdpEndpoint,
		targetB: UdpEndpoint,
		models: { aToB?: ImpairmentModel; bToA?: ImpairmentModel } = {},
	): Promise<ImpairedUdpLink> {
		const bind = async () => {
			const socket = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
			await new Promise<void>((resolve) => socket.bind(0, bindIp, () => resolve()));
			return socket;
		};
		const link = new ImpairedUdpLink(
			await bind(),
			await bind(),
			models.aToB ?? new ImpairmentModel(),
			models.bToA ?? new ImpairmentModel(),
		);
		link.#sideA.on('message', (packet) => link.#forward(packet, link.aToB, link.stats.aToB, link.#sideB, targetB));
		link.#sideB.on('message', (packet) => link.#forward(packet, link.bToA, link.stats.bToA, link.#sideA, targetA));
		return link;
	}

	get portForA(): number {
		return (this.#sideA.address() as AddressInfo).port;
	}

	get portForB(): number {
		return (this.#sideB.address() as AddressInfo).port;
	}

	/** Sets the same impairment both ways. */
	impair(impairment: Impairment): void {
		this.aToB.impairment = impairment;
		this.bToA.impairment = impairment;
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const timer of this.#timers) clearTimeout(timer);
		this.#sideA.close();
		this.#sideB.close();
	}

	get closed(): boolean {
		return this.#closed;
	}

	#forward(packet: Buffer, model: ImpairmentModel, stats: DirectionStats, out: Socket, target: UdpEndpoint): void {
		stats.received++;
		this.lastActivityMs = performance.now();
		const verdict = model.next();
		if (verdict.drop) {
			stats.dropped++;
			return;
		}
		const send = () => {
			if (!this.#closed) out.send(packet, target.port, target.ip);
		};
		if (verdict.delayMs < 0.5) {
			send();
			return;
		}
		const timer = setTimeout(() => {
			this.#timers.delete(timer);
			send();
		}, verdict.delayMs);
		this.#timers.add(timer);
	}
}
