import { createServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Server as SocketIoServer } from 'socket.io';
import type { Sft } from '../../sft/Sft.ts';
import { ClientSession, type ClientSessionOptions } from './ClientSession.ts';
import type { TlsPair } from './clientTls.ts';
import { MAX_PAYLOAD_BYTES } from './protocol.ts';
import type { HttpHandler } from './webApp.ts';

export interface ClientServerOptions extends ClientSessionOptions {
	ip: string;
	port: number;
	tls: TlsPair;
	/** Plain HTTP requests (socket.io takes its own path first); unhandled ones get 404. */
	httpHandlers?: HttpHandler[];
}

/** The HTTPS + socket.io listener calling clients connect to. */
export class ClientServer {
	readonly #https: HttpsServer;
	readonly #io: SocketIoServer;

	private constructor(https: HttpsServer, io: SocketIoServer) {
		this.#https = https;
		this.#io = io;
	}

	static async listen(sft: Sft, options: ClientServerOptions, logger: Logger): Promise<ClientServer> {
		const handlers = options.httpHandlers ?? [];
		const https = createServer({ cert: options.tls.cert, key: options.tls.key }, (req, res) => {
			if (!handlers.some((handle) => handle(req, res))) res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
		});
		// Transport limit above the per-request limit, so an oversized request
		// gets a clear error ack instead of a dropped connection.
		const io = new SocketIoServer(https, { maxHttpBufferSize: 4 * MAX_PAYLOAD_BYTES, cors: { origin: true } });
		io.on('connection', (socket) => new ClientSession(socket, sft, options, logger));
		await new Promise<void>((resolve, reject) => {
			https.once('error', reject);
			https.listen(options.port, options.ip, () => {
				https.off('error', reject);
				resolve();
			});
		});
		return new ClientServer(https, io);
	}

	get port(): number {
		return (this.#https.address() as AddressInfo).port;
	}

	/** Disconnects every client and stops listening. */
	async close(): Promise<void> {
		await new Promise<void>((resolve) => void this.#io.close(() => resolve()));
		this.#https.closeAllConnections();
	}
}
