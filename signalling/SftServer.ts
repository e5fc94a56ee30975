import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { Sft } from '../sft/Sft.ts';
import { SftMetrics } from '../sft/SftMetrics.ts';
import { ClientServer } from './client/ClientServer.ts';
import { loadClientTls } from './client/clientTls.ts';
import { FederationLinkWatch } from './client/FederationLinkWatch.ts';
import { type DevTokenMode, webAppHandler } from './client/webApp.ts';
import { DEFAULT_TOKEN_SECRET, resolveWorkerCount, type SftConfig } from './config.ts';
import { FederationHub } from './federation/relay/FederationHub.ts';
import { LinkMetrics } from './federation/relay/LinkMetrics.ts';
import { Federation } from './federation/trust/index.ts';
import { MetricsServer } from './MetricsServer.ts';

/**
 * One domain's SFT process, assembled: media plane, client signalling,
 * metrics and (when enabled) the federation trust layer. Used by main.ts and
 * by tests that want a whole server in-process.
 */
export class SftServer {
	readonly sft: Sft;
	readonly clients: ClientServer;
	readonly metricsServer: MetricsServer;
	readonly registry: Registry;
	readonly federation: Federation | undefined;
	readonly hub: FederationHub | undefined;
	readonly linkMetrics: LinkMetrics | undefined;
	readonly #linkWatch: FederationLinkWatch | undefined;
	readonly selfSignedCert: string | undefined;
	readonly #metrics: SftMetrics;
	readonly #logger: Logger;
	#closed = false;

	private constructor(parts: {
		sft: Sft;
		clients: ClientServer;
		metricsServer: MetricsServer;
		registry: Registry;
		metrics: SftMetrics;
		federation: Federation | undefined;
		hub: FederationHub | undefined;
		linkMetrics: LinkMetrics | undefined;
		linkWatch: FederationLinkWatch | undefined;
		selfSignedCert: string | undefined;
		logger: Logger;
	}) {
		this.sft = parts.sft;
		this.clients = parts.clients;
		this.metricsServer = parts.metricsServer;
		this.registry = parts.registry;
		this.#metrics = parts.metrics;
		this.federation = parts.federation;
		this.hub = parts.hub;
		this.linkMetrics = parts.linkMetrics;
		this.#linkWatch = parts.linkWatch;
		this.selfSignedCert = parts.selfSignedCert;
		this.#logger = parts.logger;
	}

	static async start(config: SftConfig, logger: Logger): Promise<SftServer> {
		const { media, signalling } = config;
		const announcedAddress = media.announcedAddress ?? defaultAnnouncedAddress(media.listenIp);
		const sft = await Sft.create(
			{
				workers: resolveWorkerCount(media.workers),
				listenIp: media.listenIp,
				announcedAddress,
				rtcBasePort: media.rtcBasePort,
				rtcMinPort: media.rtcMinPort,
				rtcMaxPort: media.rtcMaxPort,
				logLevel: media.workerLogLevel,
				limits: { maxVideos: media.maxVideos, maxAudible: media.maxAudible },
				initialOutgoingBitrate: media.initialOutgoingBitrate,
				audioLevelIntervalMs: media.audioLevelIntervalMs,
				audioLevelThreshold: media.audioLevelThreshold,
			},
			logger.child({ component: 'sft' }),
		);
		const registry = new Registry();
		collectDefaultMetrics({ register: registry, prefix: 'sft_process_' });
		// prom-client's *_total handle/request/resource gauges break the naming
		// convention (`_total` is for counters; `promtool check metrics` refuses
		// them) and only repeat the sum of the per-type gauges kept beside them.
		for (const kind of ['handles', 'requests', 'resources']) registry.removeSingleMetric(`sft_process_nodejs_active_${kind}_total`);
		const metrics = new SftMetrics(sft, registry, config.metrics.statsIntervalMs);
		let federation: Federation | undefined;
		let hub: FederationHub | undefined;
		let linkMetrics: LinkMetrics | undefined;
		let linkWatch: FederationLinkWatch | undefined;
		let clients: ClientServer | undefined;
		let metricsServer: MetricsServer | undefined;
		try {
			if (config.federation.enabled) {
				const fed = config.federation;
				federation = await Federation.start({ config: fed, logger: logger.child({ component: 'federation' }), registry });
				hub = new FederationHub(
					sft,
					federation,
					{
						domain: fed.domain,
						announcedEndpoint: fed.announcedHost ? { host: fed.announcedHost, port: federation.port } : undefined,
						relay: { listenIp: media.listenIp, announcedAddress, portRange: { min: media.rtcMinPort, max: media.rtcMaxPort } },
					},
					logger.child({ component: 'federated-conferences' }),
				);
				linkMetrics = new LinkMetrics(hub, registry, config.metrics.statsIntervalMs);
				linkWatch = new FederationLinkWatch(hub, linkMetrics);
			}
			const tls = await loadClientTls(signalling.certFile, signalling.keyFile);
			const webLogger = logger.child({ component: 'web-app' });
			const devTokens = devTokenMode(config.signalling);
			if (devTokens === 'anyone-unsafe') {
				webLogger.warn(
					'UNSAFE: signalling.devTokens is anyone-unsafe: every machine that reaches the client listener can get a token for any conference. Development only.',
				);
			}
			clients = await ClientServer.listen(
				sft,
				{
					ip: signalling.listen.ip,
					port: signalling.listen.port,
					tls,
					tokenSecret: signalling.tokenSecret,
					requireToken: signalling.requireToken,
					hub,
					links: linkWatch,
					httpHandlers: [webAppHandler({ distDir: WEB_APP_DIR, devTokens, tokenSecret: signalling.tokenSecret, logger: webLogger })],
				},
				logger.child({ component: 'signalling' }),
			);
			metricsServer = await MetricsServer.listen(registry, config.metrics.listen.ip, config.metrics.listen.port);
			return new SftServer({
				sft,
				clients,
				metricsServer,
				registry,
				metrics,
				federation,
				hub,
				linkMetrics,
				linkWatch,
				selfSignedCert: tls.selfSigned ? tls.cert : undefined,
				logger,
			});
		} catch (error) {
			await clients?.close();
			await metricsServer?.close();
			linkWatch?.close();
			linkMetrics?.close();
			hub?.close();
			await federation?.close();
			metrics.close();
			sft.close();
			throw error;
		}
	}

	/**
	 * Stops new conferences, lets running ones go on until they end or the
	 * deadline passes, then closes everything.
	 */
	async drainAndClose(deadlineMs: number): Promise<void> {
		this.sft.startDraining();
		const deadline = Date.now() + deadlineMs;
		this.#logger.info({ conferences: this.sft.conferences.length, deadlineMs }, 'draining');
		while (this.sft.conferences.length > 0 && Date.now() < deadline) {
			await new Promise((resolve) => setTimeout(resolve, Math.min(500, Math.max(0, deadline - Date.now()))));
		}
		await this.close();
	}

	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		this.sft.close();
		await this.clients.close();
		await this.metricsServer.close();
		this.#linkWatch?.close();
		this.linkMetrics?.close();
		this.hub?.close();
		await this.federation?.close();
		this.#metrics.close();
	}
}

/** Where `npm run build:web` puts the web app. */
const WEB_APP_DIR = new URL('../client/web/dist', import.meta.url).pathname;

/** `auto`: this machine may get development tokens while the token secret is the embedded default. */
function devTokenMode(signalling: SftConfig['signalling']): DevTokenMode {
	if (signalling.devTokens !== 'auto') return signalling.devTokens;
	return signalling.tokenSecret === DEFAULT_TOKEN_SECRET ? 'loopback' : 'off';
}

/**
 * A wildcard listen address cannot go into ICE candidates; without an
 * operator-given announced address, use this host's first external IPv4
 * address (loopback on a machine that has none).
 */
function defaultAnnouncedAddress(listenIp: string): string | undefined {
	if (listenIp !== '0.0.0.0' && listenIp !== '::') return undefined;
	const external = Object.values(networkInterfaces())
		.flat()
		.find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);
	return external?.address ?? '127.0.0.1';
}
