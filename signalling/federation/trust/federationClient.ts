import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { type Socket as ClientSocket, io } from 'socket.io-client';
import { normalizeDomain } from '../../../certs/domainName.ts';
import { verifyPeerCertificate } from '../../../certs/verifyPeerCertificate.ts';
import { TypedEmitter } from '../../../sft/TypedEmitter.ts';
import { type FederationDiscovery, FederationDiscoveryError, type FederationEndpoint } from './discovery.ts';
import { FederationConnectError } from './federationConnectError.ts';
import type { FederationMetrics } from './federationMetrics.ts';
import { GENERIC_REFUSAL_MESSAGE, type OutboundFederationPeer } from './federationPeer.ts';
import type { RefusalRecorder } from './refusalRecorder.ts';
import { revalidateLinks } from './revalidatePeers.ts';
import type { TrustMaterial } from './trustMaterial.ts';
import { VerifyingTlsAgent } from './verifyingTlsAgent.ts';

export interface FederationClientOptions {
	trust: TrustMaterial;
	discovery: FederationDiscovery;
	logger: Logger;
	metrics: FederationMetrics;
	recordRefusal: RefusalRecorder;
	/** Per-endpoint budget for TLS + socket.io handshake (default 10 s). */
	connectTimeoutMs?: number;
}

export type FederationClientEvents = {
	peerClosed: [peer: OutboundFederationPeer, reason: string];
};

export interface ConnectToPeerTarget {
	domain: string;
	/** Skip discovery and dial this endpoint (still verified against `domain`). */
	endpoint?: { host: string; port: number };
}

interface PeerRecord {
	peer: OutboundFederationPeer;
	chainDer: Uint8Array[];
}

/**
 * Dials partner SFTs. `connectToPeer` resolves only with a link whose server
 * proved `domain` with a trusted certificate and accepted our own certificate.
 * One link per domain: concurrent or repeated calls share it. Links do not
 * auto-reconnect; on `'peerClosed'` the owner decides whether to dial again.
 */
export class FederationClient extends TypedEmitter<FederationClientEvents> {
	#trust: TrustMaterial;
	readonly #records = new Map<string, PeerRecord>();
	readonly #dialling = new Map<string, Promise<OutboundFederationPeer>>();
	#closed = false;

	readonly #options: FederationClientOptions;

	constructor(options: FederationClientOptions) {
		super((eventName, error) => options.logger.error({ err: error, eventName }, 'federation client listener threw'));
		this.#options = options;
		this.#trust = options.trust;
	}

	get peers(): OutboundFederationPeer[] {
		return [...this.#records.values()].map((record) => record.peer);
	}

	getPeer(domain: string): OutboundFederationPeer | undefined {
		return this.#records.get(normalizeDomain(domain) ?? domain)?.peer;
	}

	async connectToPeer(target: ConnectToPeerTarget): Promise<OutboundFederationPeer> {
		if (this.#closed) throw new FederationConnectError(target.domain, 'closed', 'client is closed');
		const domain = normalizeDomain(target.domain);
		if (!domain) throw new FederationConnectError(target.domain, 'no_endpoint', 'not a valid domain');
		if (!this.#trust.isDomainAllowed(domain)) {
			// Refused before any packet is sent: nothing to learn from dialling.
			const detail = `domain ${domain} is not on the allow list`;
			this.#options.recordRefusal({ reason: 'domain_not_allowed', direction: 'outbound', detail, domain });
			throw new FederationConnectError(domain, 'refused_locally', detail, 'domain_not_allowed');
		}
		const existing = this.#records.get(domain);
		if (existing?.peer.socket.connected) return existing.peer;
		let pending = this.#dialling.get(domain);
		if (!pending) {
			pending = this.#dialAny(domain, target.endpoint).finally(() => this.#dialling.delete(domain));
			this.#dialling.set(domain, pending);
		}
		return pending;
	}

	/** Applies a new trust snapshot; drops links whose server is no longer trusted or allowed. */
	async updateTrust(trust: TrustMaterial): Promise<string[]> {
		this.#trust = trust;
		return this.revalidatePeers();
	}

	/** Re-checks connected servers against the current trust (and clock: expiry); drops failures. */
	async revalidatePeers(now = new Date()): Promise<string[]> {
		const links = [...this.#records.values()].map((record) => ({
			domain: record.peer.domain,
			chainDer: record.chainDer,
			disconnect: () => record.peer.socket.disconnect(),
		}));
		return revalidateLinks(links, this.#trust, 'server', this.#options.logger, now);
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const record of [...this.#records.values()]) record.peer.socket.disconnect();
	}

	async #dialAny(domain: string, endpoint: ConnectToPeerTarget['endpoint']): Promise<OutboundFederationPeer> {
		const endpoints = endpoint ? [{ ...endpoint, source: 'static' as const }] : await this.#discover(domain);
		if (endpoints.length === 0) throw new FederationConnectError(domain, 'no_endpoint', 'no static peer entry and no usable SRV record');
		let lastError: FederationConnectError | undefined;
		for (const candidate of endpoints) {
			try {
				return await this.#dial(domain, candidate);
			} catch (error) {
				if (!(error instanceof FederationConnectError) || error.failure === 'closed') throw error;
				this.#options.logger.warn(
					{ domain, endpoint: candidate, failure: error.failure, error: error.message },
					'federation endpoint failed, trying next',
				);
				lastError = error;
			}
		}
		throw lastError ?? new FederationConnectError(domain, 'unreachable', 'no endpoint to dial');
	}

	async #discover(domain: string): Promise<FederationEndpoint[]> {
		try {
			return await this.#options.discovery.resolve(domain);
		} catch (error) {
			const code = error instanceof FederationDiscoveryError ? error.code : String(error);
			throw new FederationConnectError(domain, 'unreachable', `discovery failed (${code})`);
		}
	}

	async #dial(domain: string, endpoint: FederationEndpoint): Promise<OutboundFederationPeer> {
		const trust = this.#trust;
		const timeoutMs = this.#options.connectTimeoutMs ?? 10_000;
		const agent = new VerifyingTlsAgent({
			tls: trust.tlsOptions(),
			servername: domain,
			lookup: this.#options.discovery.lookup,
			timeoutMs,
			verify: (chainDer) =>
				verifyPeerCertificate({
					chainDer,
					trustBundle: trust.trustBundle,
					claimedDomain: domain,
					role: 'server',
					allowedDomains: trust.allowedDomains,
					pinnedIssuers: trust.pinnedIssuers,
				}),
		});
		const host = isIP(endpoint.host) === 6 ? `[${endpoint.host}]` : endpoint.host;
		const socket = io(`https://${host}:${endpoint.port}`, {
			transports: ['websocket'],
			// socket.io-client types `agent` as string|boolean, but passes it to ws as an http.Agent.
			agent: agent as unknown as string,
			auth: { domain: trust.localDomain },
			reconnection: false,
			forceNew: true,
			multiplex: false,
			timeout: timeoutMs,
		});
		try {
			await new Promise<void>((resolve, reject) => {
				socket.once('connect', resolve);
				socket.once('connect_error', reject);
			});
		} catch (error) {
			socket.close();
			agent.destroy();
			throw this.#classifyFailure(domain, endpoint, agent, error);
		}
		if (this.#closed) {
			socket.close();
			throw new FederationConnectError(domain, 'closed', 'client closed while connecting');
		}
		return this.#register(domain, endpoint, socket, agent);
	}

	#classifyFailure(domain: string, endpoint: FederationEndpoint, agent: VerifyingTlsAgent, error: unknown): FederationConnectError {
		const verification = agent.verification;
		if (verification && !verification.ok) {
			this.#options.recordRefusal({
				reason: verification.reason,
				direction: 'outbound',
				detail: verification.detail,
				remoteAddress: agent.remoteAddress,
				domain,
			});
			return new FederationConnectError(domain, 'refused_locally', `${verification.reason}: ${verification.detail}`, verification.reason);
		}
		if (!verification && agent.tlsFailure) {
			// The partner broke the TLS handshake (e.g. it has no certificate): refused, as the inbound side counts it.
			const detail = `TLS handshake failed: ${agent.tlsFailure}`;
			const remoteAddress = agent.remoteAddress ?? endpoint.host;
			this.#options.recordRefusal({ reason: 'bad_handshake', direction: 'outbound', detail, remoteAddress, domain });
			return new FederationConnectError(domain, 'refused_locally', `bad_handshake: ${detail}`, 'bad_handshake');
		}
		const message = error instanceof Error ? error.message : String(error);
		const description = (error as { description?: { message?: string } }).description?.message;
		if (message === GENERIC_REFUSAL_MESSAGE || description === 'Unexpected server response: 403') {
			return new FederationConnectError(domain, 'refused_by_peer', 'peer refused the handshake');
		}
		if (verification?.ok && !description?.startsWith('Unexpected server response')) {
			// We accepted the server, then it dropped us before socket.io connected: its certificate check failed.
			return new FederationConnectError(
				domain,
				'refused_by_peer',
				'peer closed the connection after TLS (it likely refused our certificate)',
			);
		}
		return new FederationConnectError(domain, 'unreachable', `${endpoint.host}:${endpoint.port}: ${description ?? message}`);
	}

	#register(domain: string, endpoint: FederationEndpoint, socket: ClientSocket, agent: VerifyingTlsAgent): OutboundFederationPeer {
		const verification = agent.verification;
		const peer: OutboundFederationPeer = {
			direction: 'outbound',
			domain,
			socket,
			endpoint,
			remoteAddress: (agent.remoteAddress ?? '').replace(/^::ffff:/, ''),
			fingerprintSha256: verification?.ok ? verification.fingerprintSha256 : '',
			connectedAt: new Date(),
		};
		this.#records.set(domain, { peer, chainDer: agent.verifiedChain });
		this.#options.metrics.connectionOpened(domain);
		this.#options.logger.info({ domain, endpoint, fingerprint: peer.fingerprintSha256 }, 'federation peer connected (outbound)');
		socket.once('disconnect', (reason) => {
			if (this.#records.get(domain)?.peer === peer) this.#records.delete(domain);
			this.#options.metrics.connectionClosed(domain);
			agent.destroy();
			this.#options.logger.info({ domain, reason }, 'federation peer disconnected (outbound)');
			this.emit('peerClosed', peer, reason);
		});
		return peer;
	}
}
