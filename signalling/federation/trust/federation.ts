import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { TypedEmitter } from '../../../sft/TypedEmitter.ts';
import { FEDERATION_SRV_SERVICE, FederationDiscovery } from './discovery.ts';
import { type ConnectToPeerTarget, FederationClient } from './federationClient.ts';
import type { EnabledFederationConfig } from './federationConfig.ts';
import { createFederationMetrics } from './federationMetrics.ts';
import type { FederationPeer, InboundFederationPeer, OutboundFederationPeer } from './federationPeer.ts';
import { FederationServer } from './federationServer.ts';
import { createRefusalRecorder, type RefusalEvent } from './refusalRecorder.ts';
import { TrustFileWatcher } from './trustFileWatcher.ts';
import { TrustMaterial } from './trustMaterial.ts';

export interface FederationOptions {
	config: EnabledFederationConfig;
	logger: Logger;
	/** Metrics are registered here (never in prom-client's global registry). */
	registry: Registry;
	/** Reload when cert/key/bundle files change (default true). */
	watchFiles?: boolean;
	/** stat() polling interval for the file watch (default 2000 ms). */
	watchIntervalMs?: number;
	connectTimeoutMs?: number;
	/** How often connected peers are re-checked, so a certificate expiring mid-link drops it (default 1 h). */
	revalidateIntervalMs?: number;
	/** Seeded randomness for SRV weight selection (tests). */
	random?: () => number;
}

export type FederationEvents = {
	/** A partner SFT dialled us and authenticated. */
	peer: [peer: InboundFederationPeer];
	/** Any link (inbound or outbound) ended; `reason` is socket.io's disconnect reason. */
	peerClosed: [peer: FederationPeer, reason: string];
	/** A handshake was refused (already logged and counted). */
	refused: [event: RefusalEvent];
	/** New trust material is in effect; `disconnected` lists domains dropped by it. */
	reloaded: [info: { trigger: 'explicit' | 'file'; disconnected: string[] }];
};

/**
 * Owner of the federation trust layer: loads trust material, runs the inbound
 * FederationServer and the outbound FederationClient, watches files and applies
 * reloads to both. The lead's main creates one when `federation.enabled`, calls
 * `reload(config)` on SIGHUP and `close()` on shutdown.
 */
export class Federation extends TypedEmitter<FederationEvents> {
	readonly server: FederationServer;
	readonly client: FederationClient;
	readonly discovery: FederationDiscovery;
	#config: EnabledFederationConfig;
	#trustMaterial: TrustMaterial;
	#watcher: TrustFileWatcher | undefined;
	readonly #revalidateTimer: NodeJS.Timeout;
	#reloadChain: Promise<unknown> = Promise.resolve();
	#closed = false;

	static async start(options: FederationOptions): Promise<Federation> {
		const trust = await TrustMaterial.load(options.config);
		for (const warning of trust.warnings) options.logger.warn(warning);
		// Late-bound so the emitter (this) exists before the recorder needs it.
		let federation: Federation | undefined;
		const metrics = createFederationMetrics(options.registry, () => federation?.trust.ownCertificate.notAfter);
		const recordRefusal = createRefusalRecorder(options.logger, metrics, (event) => federation?.emit('refused', event));
		const discovery = new FederationDiscovery(discoveryOptions(options.config, options.random));
		const server = await FederationServer.listen({ listen: options.config.listen, trust, logger: options.logger, metrics, recordRefusal });
		const client = new FederationClient({
			trust,
			discovery,
			logger: options.logger,
			metrics,
			recordRefusal,
			...(options.connectTimeoutMs ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
		});
		federation = new Federation(options, trust, server, client, discovery);
		return federation;
	}

	readonly #options: FederationOptions;

	private constructor(
		options: FederationOptions,
		trust: TrustMaterial,
		server: FederationServer,
		client: FederationClient,
		discovery: FederationDiscovery,
	) {
		super((eventName, error) => options.logger.error({ err: error, eventName }, 'federation listener threw'));
		this.#options = options;
		this.#config = options.config;
		this.#trustMaterial = trust;
		this.server = server;
		this.client = client;
		this.discovery = discovery;
		server.on('peer', (peer) => this.emit('peer', peer));
		server.on('peerClosed', (peer, reason) => this.emit('peerClosed', peer, reason));
		client.on('peerClosed', (peer, reason) => this.emit('peerClosed', peer, reason));
		this.#watch();
		this.#revalidateTimer = setInterval(() => {
			this.revalidatePeers().catch((error: unknown) => options.logger.error({ err: error }, 'federation peer revalidation failed'));
		}, options.revalidateIntervalMs ?? 3_600_000);
		this.#revalidateTimer.unref();
		const srvTarget = this.#config.announcedHost ?? '<this host>';
		options.logger.info(
			{ domain: this.#config.domain, port: server.port },
			`publish: ${FEDERATION_SRV_SERVICE}.${this.#config.domain}. SRV 10 100 ${server.port} ${srvTarget}.`,
		);
	}

	get localDomain(): string {
		return this.#config.domain;
	}

	/** The trust snapshot currently in effect. */
	get trust(): TrustMaterial {
		return this.#trustMaterial;
	}

	get port(): number {
		return this.server.port;
	}

	get peers(): FederationPeer[] {
		return [...this.server.peers, ...this.client.peers];
	}

	/** Dial (or reuse) the authenticated link to a partner domain. */
	connectToPeer(target: ConnectToPeerTarget): Promise<OutboundFederationPeer> {
		return this.client.connectToPeer(target);
	}

	/**
	 * Re-reads certificate, key and bundle (paths from `config`, default: the
	 * current config) and applies the new allow list and discovery settings.
	 * Rejects and keeps the old material when the new one is invalid.
	 * Listening address changes need a restart.
	 */
	reload(config: EnabledFederationConfig = this.#config): Promise<void> {
		return this.#enqueueReload(config, 'explicit');
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.#watcher?.close();
		clearInterval(this.#revalidateTimer);
		this.client.close();
		await this.server.close();
	}

	/** Drops links whose certificate stopped being acceptable (e.g. expired); returns their domains. */
	async revalidatePeers(now = new Date()): Promise<string[]> {
		return [...(await this.server.revalidatePeers(now)), ...(await this.client.revalidatePeers(now))];
	}

	#enqueueReload(config: EnabledFederationConfig, trigger: 'explicit' | 'file'): Promise<void> {
		const run = this.#reloadChain.then(() => this.#applyReload(config, trigger));
		this.#reloadChain = run.catch(() => undefined);
		return run;
	}

	async #applyReload(config: EnabledFederationConfig, trigger: 'explicit' | 'file'): Promise<void> {
		if (this.#closed) return;
		const trust = await TrustMaterial.load(config);
		for (const warning of trust.warnings) this.#options.logger.warn(warning);
		if (config.listen.ip !== this.#config.listen.ip || config.listen.port !== this.#config.listen.port) {
			this.#options.logger.warn({ listen: config.listen }, 'federation listen address changed; takes effect after restart');
		}
		const filesChanged = ['certFile', 'keyFile', 'trustBundleFile'].some(
			(key) => config[key as keyof EnabledFederationConfig] !== this.#config[key as keyof EnabledFederationConfig],
		);
		this.#config = config;
		this.#trustMaterial = trust;
		this.discovery.update(discoveryOptions(config, this.#options.random));
		const disconnected = [...(await this.server.updateTrust(trust)), ...(await this.client.updateTrust(trust))];
		if (filesChanged) this.#watch();
		this.#options.logger.info(
			{ trigger, fingerprint: trust.ownCertificate.fingerprintSha256, notAfter: trust.ownCertificate.notAfter, disconnected },
			'federation trust reloaded',
		);
		this.emit('reloaded', { trigger, disconnected });
	}

	#watch(): void {
		this.#watcher?.close();
		this.#watcher = undefined;
		if (this.#options.watchFiles === false) return;
		const { certFile, keyFile, trustBundleFile } = this.#config;
		this.#watcher = new TrustFileWatcher([certFile, keyFile, trustBundleFile], this.#options.watchIntervalMs ?? 2000, () => {
			this.#enqueueReload(this.#config, 'file').catch((error: unknown) =>
				this.#options.logger.error({ err: error }, 'federation trust reload after file change failed; keeping previous material'),
			);
		});
	}
}

function discoveryOptions(config: EnabledFederationConfig, random?: () => number) {
	return { peers: config.peers, dnsServers: config.dnsServers, ...(random ? { random } : {}) };
}
