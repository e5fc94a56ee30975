import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface LinkProxyOptions {
	/** Where packets arriving on `sideA` are delivered, and vice versa. */
	targetA: { ip: string; port: number };
	targetB: { ip: string; port: number };
	/** Drop a packet travelling A → B when this returns true (user-space link impairment). */
	dropAtoB?: (packet: Buffer) => boolean;
}

/**
 * A user-space UDP "wire" between two endpoints that each connect to one of
 * its ports (mediasoup pipe transports only accept packets from the address
 * they connected to). It records what crossed, so tests can inspect the link,
 * and can drop packets, since `tc netem` is not available here.
 */
export class UdpLinkProxy {
	/** Packets seen travelling A → B (before any drop). */
	readonly capturedAtoB: Buffer[] = [];
	readonly #sideA: Socket;
	readonly #sideB: Socket;
	droppedAtoB = 0;

	private constructor(sideA: Socket, sideB: Socket) {
		this.#sideA = sideA;
		this.#sideB = sideB;
	}

	/** `portForA` is what endpoint A connects to; `portForB` what B connects to. */
	static async start(bindIp: string): Promise<UdpLinkProxy> {
		const bind = async () => {
			const socket = createSocket('udp4');
			await new Promise<void>((resolve) => socket.bind(0, bindIp, () => resolve()));
			return socket;
		};
		return new UdpLinkProxy(await bind(), await bind());
	}

	get portForA(): number {
		return (this.#sideA.address() as AddressInfo).port;
	}

	get portForB(): number {
		return (this.#sideB.address() as AddressInfo).port;
	}

	wire(options: LinkProxyOptions): void {
		this.#sideA.on('message', (packet) => {
			this.capturedAtoB.push(packet);
			if (options.dropAtoB?.(packet)) {
				this.droppedAtoB++;
				return;
			}
			this.#sideB.send(packet, options.targetB.port, options.targetB.ip);
		});
		this.#sideB.on('message', (packet) => this.#sideA.send(packet, options.targetA.port, options.targetA.ip));
	}

	close(): void {
		this.#sideA.close();
		this.#sideB.close();
	}
}
