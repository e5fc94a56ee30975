import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { Emitter } from './Emitter.ts';
import type { ReplyData, RequestName, Requests, SftEventName, SftEvents } from './protocol.ts';

/** An error acknowledgement from the SFT, or `timeout` / `disconnected` when none came. */
export class RequestError extends Error {
	readonly code: string;
	readonly method: string;

	constructor(method: string, code: string, message: string) {
		super(`${method}: ${code}: ${message}`);
		this.name = 'RequestError';
		this.code = code;
		this.method = method;
	}
}

export interface SignallingOptions {
	/** Ack timeout for each request (default 15 s). */
	requestTimeoutMs?: number;
	/** Give up the first connection after this long (default 10 s). */
	connectTimeoutMs?: number;
	/** Reconnect after a drop (default true); the session is gone then, so whoever joined must join again. */
	reconnect?: boolean;
	/** Node only: TLS trust for the SFT's certificate (browsers use their own). */
	tls?: { ca?: string | undefined; rejectUnauthorized?: boolean };
	/** Node only: headers sent with the WebSocket upgrade (e.g. the `origin` a browser would send). */
	extraHeaders?: Record<string, string>;
}

export type SignallingEvents = {
	/** Connected again after a drop. */
	reconnected: [];
	/** The connection dropped; `willReconnect` tells whether it is being retried. */
	disconnected: [reason: string, willReconnect: boolean];
	/** Any notification from the SFT (typed per event through `onEvent`). */
	event: [name: string, payload: unknown];
};

/** What a Call needs of the connection (tests put a fake in its place). */
export interface SignallingChannel {
	readonly connected: boolean;
	request<M extends RequestName>(method: M, payload: Requests[M], timeoutMs?: number): Promise<ReplyData[M]>;
	on<K extends keyof SignallingEvents>(event: K, listener: (...args: SignallingEvents[K]) => void): () => void;
}

type Ack = { ok: true; data: unknown } | { ok: false; error: { code: string; message: string } };

/**
 * The socket.io connection to an SFT: typed requests that resolve with the
 * acknowledgement's `data` or reject with a RequestError carrying its `code`,
 * and typed notifications.
 */
export class Signalling extends Emitter<SignallingEvents> implements SignallingChannel {
	readonly url: string;
	readonly socket: Socket;
	readonly #requestTimeoutMs: number;
	#closed = false;

	private constructor(url: string, socket: Socket, requestTimeoutMs: number) {
		super();
		this.url = url;
		this.socket = socket;
		this.#requestTimeoutMs = requestTimeoutMs;
		socket.onAny((name: string, payload: unknown) => this.emit('event', name, payload));
		socket.on('disconnect', (reason) => {
			// socket.io retries by itself except after a deliberate disconnect by either side.
			const willReconnect =
				!this.#closed && reason !== 'io server disconnect' && reason !== 'io client disconnect' && socket.io.reconnection();
			this.emit('disconnected', reason, willReconnect);
		});
		// Connected to the namespace again (the manager's own `reconnect` comes earlier, before requests can be sent).
		socket.on('connect', () => this.emit('reconnected'));
	}

	/** Opens the connection; rejects when the first attempt fails. */
	static async connect(url: string, options: SignallingOptions = {}): Promise<Signalling> {
		const socketOptions: Partial<ManagerOptions & SocketOptions> = {
			transports: ['websocket'],
			forceNew: true,
			reconnection: options.reconnect ?? true,
			reconnectionDelay: 250,
			reconnectionDelayMax: 4000,
			timeout: options.connectTimeoutMs ?? 10_000,
			...(options.tls ? { ca: options.tls.ca, rejectUnauthorized: options.tls.rejectUnauthorized ?? true } : {}),
			...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {}),
		};
		const socket = io(url, socketOptions);
		try {
			await new Promise<void>((resolve, reject) => {
				socket.once('connect', () => resolve());
				socket.once('connect_error', (error) => reject(new Error(`cannot connect to ${url}: ${error.message}`)));
			});
		} catch (error) {
			socket.close();
			throw error;
		}
		return new Signalling(url, socket, options.requestTimeoutMs ?? 15_000);
	}

	get connected(): boolean {
		return this.socket.connected;
	}

	/** A typed request. */
	request<M extends RequestName>(method: M, payload: Requests[M], timeoutMs?: number): Promise<ReplyData[M]> {
		return this.requestUnchecked(method, [payload], timeoutMs) as Promise<ReplyData[M]>;
	}

	/** Any event name with any arguments (an ack callback is appended). */
	async requestUnchecked(method: string, args: unknown[], timeoutMs = this.#requestTimeoutMs): Promise<unknown> {
		if (this.#closed || !this.socket.connected) throw new RequestError(method, 'disconnected', 'the signalling connection is closed');
		let response: Ack;
		try {
			response = (await this.socket.timeout(timeoutMs).emitWithAck(method, ...args)) as Ack;
		} catch {
			throw new RequestError(method, this.socket.connected ? 'timeout' : 'disconnected', `no acknowledgement within ${timeoutMs} ms`);
		}
		if (response?.ok === true) return response.data;
		if (response?.ok === false && response.error) throw new RequestError(method, response.error.code, response.error.message);
		throw new RequestError(method, 'malformed_response', `unexpected acknowledgement ${JSON.stringify(response)}`);
	}

	/** Listens to one kind of notification; returns the function that stops listening. */
	onEvent<E extends SftEventName>(event: E, listener: (payload: SftEvents[E]) => void): () => void {
		return this.on('event', (name, payload) => {
			if (name === event) listener(payload as SftEvents[E]);
		});
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.socket.close();
	}
}
