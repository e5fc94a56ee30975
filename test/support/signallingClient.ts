// A typed socket.io-client wrapper for the SFT client protocol
// (signalling/client/protocol.ts): requests resolve with `data` or reject with a
// RequestError carrying the server's error `code`; server events are logged
// and can be awaited.

import type { types as ms } from 'mediasoup';
import { io, type Socket } from 'socket.io-client';
import type { z } from 'zod';
import type {
	ParticipantInfo,
	ProducerInfo,
	RequestMethod,
	requestSchemas,
	ServerEvents,
	SimulcastProfiles,
} from '../../signalling/client/protocol.ts';
import type { ConferenceDescriptor } from '../../signalling/federation/relay/linkMessages.ts';

/** What the server puts in `data` for each request (see signalling/client/ClientSession.ts). */
export interface ResponseData {
	getCapabilities: {
		rtpCapabilities: ms.RtpCapabilities;
		limits: { maxVideos: number; maxAudible: number };
		simulcast: SimulcastProfiles;
	};
	join: {
		participantId: string;
		conferenceId: string;
		descriptor?: ConferenceDescriptor;
		rtpCapabilities: ms.RtpCapabilities;
		participants: ParticipantInfo[];
		producers: ProducerInfo[];
	};
	createTransport: {
		transportId: string;
		iceParameters?: ms.IceParameters;
		iceCandidates?: ms.IceCandidate[];
		dtlsParameters?: ms.DtlsParameters;
		ip?: string;
		port?: number;
	};
	connectTransport: Record<string, never>;
	produce: { producerId: string };
	closeProducer: Record<string, never>;
	consume: { consumerId: string; producerId: string; kind: 'audio' | 'video'; rtpParameters: ms.RtpParameters; paused: boolean };
	pause: Record<string, never>;
	resume: Record<string, never>;
	setView: Record<string, never>;
	setReceiveBitrate: Record<string, never>;
	leave: Record<string, never>;
}

/** Request payloads as a client writes them (defaults may be left out). */
export type RequestInput<M extends RequestMethod> = z.input<(typeof requestSchemas)[M]>;

export type ServerEventName = keyof ServerEvents;

export interface ReceivedEvent {
	event: string;
	payload: unknown;
	at: number;
}

/** An error acknowledgement (or a transport failure, code `timeout` / `disconnected`). */
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

type AnyResponse = { ok: true; data: unknown } | { ok: false; error: { code: string; message: string } };

export class SignallingClient {
	readonly socket: Socket;
	/** Every server event received, in order. */
	readonly events: ReceivedEvent[] = [];
	readonly #requestTimeoutMs: number;
	readonly #waiters = new Set<{ event: string; test: (payload: unknown) => boolean; resolve: (payload: unknown) => void }>();
	#closed = false;

	private constructor(socket: Socket, requestTimeoutMs: number) {
		this.socket = socket;
		this.#requestTimeoutMs = requestTimeoutMs;
		socket.onAny((event: string, payload: unknown) => {
			this.events.push({ event, payload, at: Date.now() });
			for (const waiter of [...this.#waiters]) {
				if (waiter.event === event && waiter.test(payload)) waiter.resolve(payload);
			}
		});
	}

	static async connect(options: SignallingClientOptions): Promise<SignallingClient> {
		const socket = io(options.url, {
			transports: ['websocket'],
			reconnection: false,
			forceNew: true,
			timeout: options.connectTimeoutMs ?? 5000,
			...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {}),
			...(options.ca ? { ca: options.ca, rejectUnauthorized: true } : { rejectUnauthorized: false }),
		});
		const client = new SignallingClient(socket, options.requestTimeoutMs ?? 10_000);
		try {
			await new Promise<void>((resolve, reject) => {
				socket.once('connect', () => resolve());
				socket.once('connect_error', (error) => reject(new Error(`cannot connect to ${options.url}: ${error.message}`)));
			});
		} catch (error) {
			socket.close();
			throw error;
		}
		return client;
	}

	get connected(): boolean {
		return this.socket.connected;
	}

	/** A protocol request with a typed payload and result. */
	request<M extends RequestMethod>(method: M, payload: RequestInput<M>, timeoutMs?: number): Promise<ResponseData[M]> {
		return this.requestUnchecked(method, [payload], timeoutMs) as Promise<ResponseData[M]>;
	}

	/**
	 * Sends any event name with any arguments (an ack callback is appended),
	 * for testing how the server treats malformed requests.
	 */
	async requestUnchecked(method: string, args: unknown[], timeoutMs = this.#requestTimeoutMs): Promise<unknown> {
		if (this.#closed || !this.socket.connected) throw new RequestError(method, 'disconnected', 'the signalling connection is closed');
		let response: AnyResponse;
		try {
			response = (await this.socket.timeout(timeoutMs).emitWithAck(method, ...args)) as AnyResponse;
		} catch {
			throw new RequestError(method, this.socket.connected ? 'timeout' : 'disconnected', `no acknowledgement within ${timeoutMs} ms`);
		}
		if (response && response.ok === true) return response.data;
		if (response && response.ok === false && response.error) throw new RequestError(method, response.error.code, response.error.message);
		throw new RequestError(method, 'malformed_response', `unexpected acknowledgement ${JSON.stringify(response)}`);
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
		predicate: (payload: ServerEvents[E]) => boolean = () => true,
		timeoutMs = 5000,
	): Promise<ServerEvents[E]> {
		return this.waitForAny(event, predicate as (payload: unknown) => boolean, timeoutMs) as Promise<ServerEvents[E]>;
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
	received<E extends ServerEventName>(event: E): ServerEvents[E][] {
		return this.events.filter((e) => e.event === event).map((e) => e.payload as ServerEvents[E]);
	}

	on<E extends ServerEventName>(event: E, listener: (payload: ServerEvents[E]) => void): () => void {
		const handler = (payload: ServerEvents[E]) => listener(payload);
		this.socket.on(event as string, handler);
		return () => void this.socket.off(event as string, handler);
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		this.socket.close();
	}
}
