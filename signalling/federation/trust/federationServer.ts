import { createServer, type Server as HttpsServer } from 'node:https';
import type { Socket as NetSocket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { type Socket as ServerSocket, Server as SocketIoServer } from 'socket.io';
import { type ChainVerification, verifyCertificateChain } from '../../../certs/verifyCertificateChain.ts';
import { matchClaimedDomain } from '../../../certs/verifyPeerCertificate.ts';
import { TypedEmitter } from '../../../sft/TypedEmitter.ts';
import type { FederationMetrics } from './federationMetrics.ts';
import { GENERIC_REFUSAL_MESSAGE, type InboundFederationPeer } from './federationPeer.ts';
import { peerCertificateChain } from './peerCertificateChain.ts';
import type { RefusalRecorder } from './refusalRecorder.ts';
import { revalidateLinks } from './revalidatePeers.ts';
import type { TrustMaterial } from './trustMaterial.ts';

export interface FederationServerOptions {
	listen: { ip: string; port: number };
	trust: TrustMaterial;
	logger: Logger;
	metrics: FederationMetrics;
	recordRefusal: RefusalRecorder;
	/** TLS + socket.io handshake budget per connection (default 10 s). */
	handshakeTimeoutMs?: number;
}

export type FederationServerEvents = {
	/** A partner SFT authenticated; multiplex conferences over `peer.socket`. */
	peer: [peer: InboundFederationPeer];
	peerClosed: [peer: InboundFederationPeer, reason: string];
};

interface PeerRecord {
	peer: InboundFederationPeer;
	/** Kept to re-verify the peer when trust changes. */
	chainDer: Uint8Array[];
}

/**
 * The inbound federation endpoint: an HTTPS listener (own port, separate from
 * client signalling) carrying socket.io. Every connection is checked twice:
 * its certificate right after the TLS handshake, its claimed domain in the
 * socket.io handshake. Only then is `'peer'` emitted.
 */
export class FederationServer extends TypedEmitter<FederationServerEvents> {
	#trust: TrustMaterial;
	readonly #logger: Logger;
	readonly #httpsServer: HttpsServer;
	readonly #io: SocketIoServer;
	readonly #records = new Map<string, PeerRecord>();
	readonly #tcpSockets = new Set<NetSocket>();
	readonly #tlsChecks = new WeakMap<TLSSocket, Promise<ChainVerification>>();
	readonly #authenticated = new WeakMap<ServerSocket, { domain: string; chainDer: Uint8Array[]; fingerprintSha256: string }>();
	readonly #options: FederationServerOptions;
	#closed = false;

	static async listen(options: FederationServerOptions): Promise<FederationServer> {
		const server = new FederationServer(options);
		await server.#startListening(options.listen);
		return server;
	}

	private constructor(options: FederationServerOptions) {
		super((eventName, error) => options.logger.error({ err: error, eventName }, 'federation server listener threw'));
		this.#options = options;
		this.#trust = options.trust;
		this.#logger = options.logger;
		const handshakeTimeout = options.handshakeTimeoutMs ?? 10_000;
		this.#httpsServer = createServer({
			...this.#trust.tlsOptions(),
			requestCert: true,
			// We verify certificates ourselves (certs/) so each refusal gets a precise,
			// logged and counted reason instead of an anonymous OpenSSL alert.
			rejectUnauthorized: false,
			minVersion: 'TLSv1.2',
			handshakeTimeout,
		});
		this.#httpsServer.on('connection', (socket: NetSocket) => {
			this.#tcpSockets.add(socket);
			socket.once('close', () => this.#tcpSockets.delete(socket));
		});
		this.#httpsServer.on('secureConnection', (socket: TLSSocket) => void this.#checkCertificate(socket));
		this.#httpsServer.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
			if (this.#closed) return;
			this.#options.recordRefusal({
				reason: 'bad_handshake',
				direction: 'inbound',
				detail: `TLS handshake failed: ${error.code ?? error.message}`,
				remoteAddress: socket.remoteAddress,
			});
		});
		// Registered before socket.io attaches: engine.io forwards non-socket.io paths here.
		this.#httpsServer.on('request', (request, response) => {
			void this.#checkCertificate(request.socket as TLSSocket).then((result) => {
				if (result.ok) response.writeHead(404).end();
			});
		});
		this.#io = new SocketIoServer(this.#httpsServer, {
			// WebSocket only: one socket.io session = one TLS connection = one verified
			// certificate. Long-polling would spread a session over many connections.
			transports: ['websocket'],
			allowUpgrades: false,
			serveClient: false,
			connectTimeout: handshakeTimeout,
			// Heartbeat: a dead partner is noticed within pingInterval + pingTimeout (4 s), on both ends.
			pingInterval: 2000,
			pingTimeout: 2000,
			allowRequest: (request, callback) => {
				void this.#checkCertificate(request.socket as TLSSocket).then((result) =>
					callback(result.ok ? null : GENERIC_REFUSAL_MESSAGE, result.ok),
				);
			},
		});
		this.#io.use((socket, next) => {
			void this.#authenticate(socket).then((ok) => {
				if (ok) return next();
				next(new Error(GENERIC_REFUSAL_MESSAGE));
				// Drop the connection once the error packet is flushed; a refused peer gets nothing else.
				setImmediate(() => socket.conn.close());
			});
		});
		this.#io.on('connection', (socket) => this.#admit(socket));
	}

	/** Port actually bound (useful with `listen.port: 0`). */
	get port(): number {
		const address = this.#httpsServer.address();
		return typeof address === 'object' && address ? address.port : 0;
	}

	get peers(): InboundFederationPeer[] {
		return [...this.#records.values()].map((record) => record.peer);
	}

	/**
	 * Applies a new trust snapshot: new TLS context for future handshakes, and
	 * re-verification of connected peers (disconnecting those no longer trusted
	 * or no longer allowed). Returns the domains that were disconnected.
	 */
	async updateTrust(trust: TrustMaterial): Promise<string[]> {
		this.#trust = trust;
		this.#httpsServer.setSecureContext(trust.tlsOptions());
		return this.revalidatePeers();
	}

	/** Re-checks connected peers against the current trust (and clock: expiry); drops failures. */
	async revalidatePeers(now = new Date()): Promise<string[]> {
		const links = [...this.#records.values()].map((record) => ({
			domain: record.peer.domain,
			chainDer: record.chainDer,
			disconnect: () => record.peer.socket.disconnect(true),
		}));
		return revalidateLinks(links, this.#trust, 'client', this.#logger, now);
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		const stopped = new Promise<void>((resolve) => void this.#io.close(() => resolve()));
		// Includes connections still in the TLS handshake, which server.close() would wait for.
		for (const socket of this.#tcpSockets) socket.destroy();
		await stopped;
	}

	async #startListening(listen: { ip: string; port: number }): Promise<void> {
		await new Promise<void>((resolve, reject) => {
			this.#httpsServer.once('error', reject);
			this.#httpsServer.listen(listen.port, listen.ip, () => {
				this.#httpsServer.off('error', reject);
				resolve();
			});
		});
		this.#logger.info({ ip: listen.ip, port: this.port, domain: this.#trust.localDomain }, 'federation endpoint listening');
	}

	/** Certificate check for one TLS connection, run once and shared by every later stage. */
	#checkCertificate(socket: TLSSocket): Promise<ChainVerification> {
		let pending = this.#tlsChecks.get(socket);
		if (!pending) {
			const chainDer = peerCertificateChain(socket);
			pending = verifyCertificateChain({ chainDer, trustBundle: this.#trust.trustBundle, role: 'client' }).then((result) => {
				if (!result.ok) {
					this.#options.recordRefusal({
						reason: result.reason,
						direction: 'inbound',
						detail: result.detail,
						remoteAddress: socket.remoteAddress,
					});
					socket.destroy();
				}
				return result;
			});
			this.#tlsChecks.set(socket, pending);
		}
		return pending;
	}

	async #authenticate(socket: ServerSocket): Promise<boolean> {
		const tlsSocket = socket.request.socket as TLSSocket;
		const certificate = await this.#checkCertificate(tlsSocket);
		if (!certificate.ok) return false; // already recorded when the TLS check failed
		const claimedDomain: unknown = (socket.handshake.auth as Record<string, unknown> | undefined)?.domain;
		const identity = matchClaimedDomain({
			dnsNames: certificate.dnsNames,
			claimedDomain,
			allowedDomains: this.#trust.allowedDomains,
			pinnedIssuers: this.#trust.pinnedIssuers,
			issuerFingerprints: certificate.issuerFingerprints,
		});
		if (!identity.ok) {
			this.#options.recordRefusal({
				reason: identity.reason,
				direction: 'inbound',
				detail: identity.detail,
				remoteAddress: tlsSocket.remoteAddress,
				domain: typeof claimedDomain === 'string' ? claimedDomain : undefined,
			});
			return false;
		}
		this.#authenticated.set(socket, {
			domain: identity.domain,
			chainDer: peerCertificateChain(tlsSocket),
			fingerprintSha256: certificate.fingerprintSha256,
		});
		return true;
	}

	#admit(socket: ServerSocket): void {
		const identity = this.#authenticated.get(socket);
		if (!identity || this.#closed) {
			socket.disconnect(true);
			return;
		}
		const peer: InboundFederationPeer = {
			direction: 'inbound',
			domain: identity.domain,
			socket,
			remoteAddress: (socket.request.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
			fingerprintSha256: identity.fingerprintSha256,
			connectedAt: new Date(),
		};
		// One link per partner: a new connection from the same domain replaces the old
		// one (typically a reconnect after a network break left a half-dead socket).
		for (const record of this.#records.values()) {
			if (record.peer.domain === peer.domain) {
				this.#logger.info({ domain: peer.domain }, 'federation peer reconnected; closing its previous inbound link');
				record.peer.socket.disconnect(true);
			}
		}
		this.#records.set(socket.id, { peer, chainDer: identity.chainDer });
		this.#options.metrics.connectionOpened(peer.domain);
		this.#logger.info(
			{ domain: peer.domain, remoteAddress: peer.remoteAddress, fingerprint: peer.fingerprintSha256 },
			'federation peer connected (inbound)',
		);
		socket.once('disconnect', (reason) => {
			this.#records.delete(socket.id);
			this.#options.metrics.connectionClosed(peer.domain);
			this.#logger.info({ domain: peer.domain, reason }, 'federation peer disconnected (inbound)');
			this.emit('peerClosed', peer, reason);
		});
		this.emit('peer', peer);
	}
}
