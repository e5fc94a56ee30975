// The SDK's signalling connection (client/Signalling.ts) with what tests need
// on top: every server event logged and awaitable, and requests expected to fail.
import type { ReplyData, Requests, SftEventName, SftEvents } from '../../client/protocol.ts';
import { RequestError, Signalling } from '../../client/Signalling.ts';

export { RequestError };
export type ResponseData = ReplyData;
export type RequestInput<M extends keyof Requests> = Requests[M];

export type ServerEventName = SftEventName;

export interface ReceivedEvent {
	event: string;
	payload: unknown;
	at: number;
}

export interface SignallingClientOptions {
	/** e.g. https://127.0.0.1:PORT */
	url: string;
	/** PEM to trust (the server's self-signed chain); without it verification is skipped. */
	ca?: string | undefined;
	/** Ack timeout for each request. */
	requestTimeoutMs?: number;
	connectTimeoutMs?: number;
	/** Sent with the WebSocket upgrade, e.g. a browser's `origin`. */
	extraHeaders?: Record<string, string>;
}

export class SignallingClient {
	readonly connection: Signalling;
	/** Every server event received, in order. */
	readonly events: ReceivedEvent[] = [];
	readonly #waiters = new Set<{ event: string; test: (payload: unknown) => boolean; resolve: (payload: unknown) => void }>();

	/** Wraps an open connection (events from now on are logged). */
	constructor(connection: Signalling) {
		this.connection = connection;
		connection.on('event', (event, payload) => {
			this.events.push({ event, payload, at: Date.now() });
			for (const waiter of [...this.#waiters]) {
				if (waiter.event === event && waiter.test(payload)) waiter.resolve(payload);
			}
		});
	}

	/** A connection that does not reconnect (a test sees every drop). */
	static async connect(options: SignallingClientOptions): Promise<SignallingClient> {
		const connection = await Signalling.connect(options.url, {
			reconnect: false,
			requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
			connectTimeoutMs: options.connectTimeoutMs ?? 5000,
			tls: options.ca ? { ca: options.ca } : { rejectUnauthorized: false },
			...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {}),
		});
		return new SignallingClient(connection);
	}

	get socket(): Signalling['socket'] {
		return this.connection.socket;
	}

	get connected(): boolean {
		return this.connection.connected;
	}

	/** A protocol request with a typed payload and result. */
	request<M extends keyof Requests>(method: M, payload: Requests[M], timeoutMs?: number): Promise<ReplyData[M]> {
		return this.connection.request(method, payload, timeoutMs);
	}

	/**
	 * Sends any event name with any arguments (an ack callback is appended),
	 * for testing how the server treats malformed requests.
	 */
	requestUnchecked(method: string, args: unknown[], timeoutMs?: number): Promise<unknown> {
		return this.connection.requestUnchecked(method, args, timeoutMs);
	}
	/** Resolves with the error code of a request expected to fail; rejects if it succeeds. */
	async expectError(method: string, payload: unknown, timeoutMs?: number): Promise<string> {
		try {
			await this.requestUnchecked(method, [payload], timeoutMs);
		} catch (error) {
			if (error instanceof RequestError) return error.code;
			throw error;
		}
		throw new Error(`${method} succeeded but was expected to fail`);
	}

	/** Waits for the next `event` (received after this call) whose payload passes `predicate`. */
	waitFor<E extends ServerEventName>(
		event: E,
		predicate: (payload: SftEvents[E]) => boolean = () => true,
		timeoutMs = 5000,
	): Promise<SftEvents[E]> {
		return this.waitForAny(event, predicate as (payload: unknown) => boolean, timeoutMs) as Promise<SftEvents[E]>;
	}

	/** waitFor for any event name (e.g. `requestError`, which is not in ServerEvents). */
	waitForAny(event: string, predicate: (payload: unknown) => boolean = () => true, timeoutMs = 5000): Promise<unknown> {
		return new Promise((resolve, reject) => {
			const waiter = {
				event,
				test: (payload: unknown) => {
					try {
						return predicate(payload);
					} catch {
						return false;
					}
				},
				resolve: (payload: unknown) => {
					clearTimeout(timer);
					this.#waiters.delete(waiter);
					resolve(payload);
				},
			};
			const timer = setTimeout(() => {
				this.#waiters.delete(waiter);
				reject(new Error(`timed out after ${timeoutMs} ms waiting for "${event}"`));
			}, timeoutMs);
			this.#waiters.add(waiter);
		});
	}

	/** Drops recorded events except those `keep` accepts (long-running clients, e.g. the soak). */
	forgetEvents(keep: (event: ReceivedEvent) => boolean): void {
		const kept = this.events.filter(keep);
		this.events.length = 0;
		this.events.push(...kept);
	}

	/** Payloads of the events named `event` received so far. */
	received<E extends ServerEventName>(event: E): SftEvents[E][] {
		return this.events.filter((e) => e.event === event).map((e) => e.payload as SftEvents[E]);
	}

	on<E extends ServerEventName>(event: E, listener: (payload: SftEvents[E]) => void): () => void {
		return this.connection.onEvent(event, listener);
	}

	close(): void {
		this.connection.close();
	}
}
