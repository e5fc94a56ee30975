import { Agent, type RequestOptions } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Duplex } from 'node:stream';
import { connect, type TLSSocket } from 'node:tls';
import type { PeerVerification } from '../../../certs/verifyPeerCertificate.ts';
import { peerCertificateChain } from './peerCertificateChain.ts';

export interface VerifyingTlsAgentOptions {
	tls: { cert: string; key: string; ca: string };
	/** SNI: the partner domain we mean to reach. */
	servername: string;
	/** Decides whether the server's certificate chain (leaf first) is acceptable. */
	verify: (chainDer: Uint8Array[]) => Promise<PeerVerification>;
	lookup?: LookupFunction | undefined;
	timeoutMs: number;
}

/**
 * An https.Agent for socket.io-client / ws that opens its own TLS connection and
 * hands it to the HTTP layer only after `verify` accepted the server. So not
 * even the WebSocket upgrade request reaches a server we have not verified.
 * One agent per dial: it remembers what happened for error reporting.
 */
export class VerifyingTlsAgent extends Agent {
	/** Outcome of the last verification (undefined if TLS never completed). */
	verification: PeerVerification | undefined;
	remoteAddress: string | undefined;
	/** The server's chain as verified, for re-verification after trust reloads. */
	verifiedChain: Uint8Array[] = [];
	/** A TLS protocol failure before the handshake completed (no certificate, bad signature, no shared cipher). */
	tlsFailure: string | undefined;

	readonly #settings: VerifyingTlsAgentOptions;

	constructor(settings: VerifyingTlsAgentOptions) {
		super({ keepAlive: false, maxCachedSessions: 0 });
		this.#settings = settings;
	}

	override createConnection(options: RequestOptions, callback?: (err: Error | null, stream: Duplex) => void): Duplex | null | undefined {
		let settled = false;
		const finish = (error: Error | null, socket: TLSSocket) => {
			if (settled) return;
			settled = true;
			clearTimeout(timer);
			socket.off('error', onError);
			callback?.(error, socket);
		};
		const socket = connect({
			host: options.host ?? options.hostname ?? 'localhost',
			port: Number(options.port),
			servername: this.#settings.servername,
			...this.#settings.tls,
			// Verification is ours (below), so the refusal reason is known and recorded.
			rejectUnauthorized: false,
			checkServerIdentity: () => undefined,
			minVersion: 'TLSv1.2',
			...(this.#settings.lookup ? { lookup: this.#settings.lookup } : {}),
		});
		const onError = (error: Error) => {
			if (!settled) this.tlsFailure = tlsFailureOf(error);
			finish(error, socket);
		};
		socket.on('error', onError);
		const timer = setTimeout(() => {
			socket.destroy();
			finish(new Error(`TLS connection timed out after ${this.#settings.timeoutMs} ms`), socket);
		}, this.#settings.timeoutMs);
		socket.once('secureConnect', () => {
			this.remoteAddress = socket.remoteAddress;
			const chain = peerCertificateChain(socket);
			void this.#settings.verify(chain).then(
				(result) => {
					this.verification = result;
					if (result.ok) {
						this.verifiedChain = chain;
						finish(null, socket);
					} else {
						socket.destroy();
						finish(new Error('server certificate refused'), socket);
					}
				},
				(error: unknown) => {
					socket.destroy();
					finish(error instanceof Error ? error : new Error(String(error)), socket);
				},
			);
		});
		return undefined; // handed over asynchronously through `callback`
	}
}

/** OpenSSL's reason for a handshake the peer broke; undefined for network errors (refused, reset, timeout). */
function tlsFailureOf(error: Error): string | undefined {
	const { code, reason, library } = error as Error & { code?: string; reason?: string; library?: string };
	if (library === 'SSL routines' || code?.startsWith('ERR_SSL_')) return reason ?? code ?? error.message;
	return undefined;
}
