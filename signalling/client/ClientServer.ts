import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { Server as SocketIoServer } from 'socket.io';
import type { Sft } from '../../sft/Sft.ts';
import { ClientSession, type ClientSessionOptions } from './ClientSession.ts';
import { createClientHttpsServer, type HttpHandler, type HttpSettings, originAllowed } from './clientHttp.ts';
import type { TlsPair } from './clientTls.ts';
import { flushClients } from './flushClients.ts';

/** How long a closing listener waits for queued events to go out and clients to hang up. */
const CLOSE_GRACE_MS = 2000;

export interface ClientServerOptions extends ClientSessionOptions {
	ip: string;
	port: number;
	tls: TlsPair;
	http: HttpSettings;
	/** Browser origins allowed besides the SFT's own. */
	corsOrigins: readonly string[];
	/** Serves HTTP paths other than socket.io's (404 when absent or when it declines). */
	httpHandler?: HttpHandler | undefined;
}

/** The HTTPS + socket.io listener calling clients connect to. */
export class ClientServer {
	readonly #https: HttpsServer;
	readonly #io: SocketIoServer;
	readonly #destroyAllSockets: () => void;

	private constructor(https: HttpsServer, io: SocketIoServer, destroyAllSockets: () => void) {
		this.#https = https;
		this.#io = io;
		this.#destroyAllSockets = destroyAllSockets;
	}

	static async listen(sft: Sft, options: ClientServerOptions, logger: Logger): Promise<ClientServer> {
		const { metrics } = options;
		const { server: https, destroyAllSockets } = createClientHttpsServer(options.tls, options.http, metrics, options.httpHandler);
		// Messages between the request limit and this get an error reply; larger ones close the connection.
		const io = new SocketIoServer(https, {
			maxHttpBufferSize: options.http.maxMessageBytes,
			...(options.corsOrigins.length > 0 ? { cors: { origin: [...options.corsOrigins] } } : {}),
			allowRequest: (request, callback) => {
				const allowed = originAllowed(request, options.corsOrigins);
				if (!allowed) metrics.connectionRefused('origin_not_allowed');
				callback(allowed ? null : 'origin not allowed', allowed);
			},
		});
		io.engine.on('connection', (connection: { once(event: 'close', listener: (reason: string, error?: unknown) => void): void }) => {
			connection.once('close', (_reason, error) => {
				if ((error as { code?: string } | undefined)?.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
					metrics.connectionRefused('message_too_large');
			});
		});
		io.on('connection', (socket) => new ClientSession(socket, sft, options, logger));
		await new Promise<void>((resolve, reject) => {
			https.once('error', reject);
			https.listen(options.port, options.ip, () => {
				https.off('error', reject);
				resolve();
			});
		});
		return new ClientServer(https, io, destroyAllSockets);
	}

	get port(): number {
		return (this.#https.address() as AddressInfo).port;
	}

	/**
	 * Disconnects every client and stops listening. What was sent to clients
	 * before (a last `conferenceEnded`) is delivered first: queued packets are
	 * flushed, and connections get `graceMs` to close by themselves before
	 * the rest are cut.
	 */
	async close(graceMs = CLOSE_GRACE_MS): Promise<void> {
		await flushClients(this.#io, graceMs);
		const closed = new Promise<void>((resolve) => void this.#io.close(() => resolve()));
		let timer: NodeJS.Timeout | undefined;
		await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
		clearTimeout(timer);
		this.#destroyAllSockets();
		await closed;
	}
}
