import type { Logger } from 'pino';
import type { Socket as ServerSocket } from 'socket.io';
import type { Socket as ClientSocket } from 'socket.io-client';
import { payloadProblem } from '../../payloadShape.ts';
import type { PeerChannel } from './ConferenceLink.ts';
import { type LinkMessage, type LinkMessageName, linkMessageNames, linkMessageSchemas } from './linkMessages.ts';

/** The part of a socket.io socket (server or client side) a channel uses. */
export interface LinkSocket {
	readonly connected: boolean;
	emit(event: string, ...args: unknown[]): unknown;
	on(event: string, listener: (...args: never[]) => void): unknown;
	off(event: string, listener: (...args: never[]) => void): unknown;
}

/**
 * socket.io's server and client sockets both fit LinkSocket at run time, but
 * their event-map generics do not unify in the type system.
 */
export function asLinkSocket(socket: ServerSocket | ClientSocket): LinkSocket {
	return socket as unknown as LinkSocket;
}

export type LinkReply = { ok: true; data?: unknown } | { ok: false; error: { code: string; message: string } };
export type LinkMessageHandler = <N extends LinkMessageName>(
	channel: SocketPeerChannel,
	name: N,
	message: LinkMessage<N>,
) => Promise<unknown>;

const REQUEST_TIMEOUT_MS = 5000;
/** Deeper than any link message; checked before the schema so deep nesting cannot exhaust the stack. */
const PAYLOAD_BOUNDS = { maxDepth: 32, maxBytes: 1_048_576 };

/**
 * Conference messages over one authenticated federation socket: each is
 * validated (a partner is trusted to be who it is, not to be bug-free) and
 * acknowledged.
 */
export class SocketPeerChannel implements PeerChannel {
	readonly domain: string;
	readonly socket: LinkSocket;
	readonly #detach: (() => void)[] = [];

	constructor(
		domain: string,
		socket: LinkSocket,
		handler: LinkMessageHandler,
		logger: Logger,
		onRefused: (code: string) => void = () => {},
	) {
		this.domain = domain;
		this.socket = socket;
		for (const name of linkMessageNames) {
			const listener = (payload: unknown, ack?: (reply: LinkReply) => void) => {
				const reply = typeof ack === 'function' ? ack : () => undefined;
				const refuse = (code: string, message: string) => {
					onRefused(code);
					reply({ ok: false, error: { code, message } });
				};
				const parsed = payloadProblem(payload, PAYLOAD_BOUNDS) ? undefined : linkMessageSchemas[name].safeParse(payload);
				if (!parsed?.success) {
					logger.debug({ peer: domain, message: name }, 'malformed federation message refused');
					refuse('bad_request', `invalid ${name}`);
					return;
				}
				handler(this, name, parsed.data as LinkMessage<typeof name>)
					.then((data) => reply({ ok: true, data }))
					.catch((error: unknown) => {
						const code = (error as { code?: string }).code;
						// Only our own refusal codes and sentences go back; anything else stays in our logs.
						if (code) refuse(code, (error as Error).message);
						else {
							logger.warn({ err: error, peer: domain, message: name }, 'federation message failed');
							refuse('internal_error', `${name} failed`);
						}
					});
			};
			socket.on(name, listener as (...args: never[]) => void);
			this.#detach.push(() => socket.off(name, listener as (...args: never[]) => void));
		}
	}

	send<N extends LinkMessageName>(name: N, message: LinkMessage<N>): Promise<unknown> {
		return new Promise((resolve, reject) => {
			if (!this.socket.connected) {
				reject(new Error(`federation link to ${this.domain} is down`));
				return;
			}
			const timer = setTimeout(() => reject(new Error(`${this.domain} did not acknowledge ${name}`)), REQUEST_TIMEOUT_MS);
			this.socket.emit(name, message, (reply: LinkReply) => {
				clearTimeout(timer);
				if (reply?.ok) resolve(reply.data);
				else reject(Object.assign(new Error(reply?.error?.message ?? 'refused'), { code: reply?.error?.code }));
			});
		});
	}

	close(): void {
		for (const off of this.#detach.splice(0)) off();
	}
}
