import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { PipeEndpointHook } from '../sft/MediaRelay.ts';
import { Sft } from '../sft/Sft.ts';
import { SftMetrics } from '../sft/SftMetrics.ts';
import { resolveWorkerAllocator } from '../sft/workerAllocator.ts';
import { ClientServer } from './client/ClientServer.ts';
import type { HttpHandler } from './client/clientHttp.ts';
import { createClientMetrics } from './client/clientMetrics.ts';
import { loadClientTls } from './client/clientTls.ts';
import { FederationLinkWatch } from './client/FederationLinkWatch.ts';
import { resolveTokenSecret, type TokenSecret } from './client/tokenSecret.ts';
import { type DevTokenMode, webAppHandler } from './client/webApp.ts';
import { resolveWorkerCount, type SftConfig } from './config.ts';
import { FederationHub } from './federation/relay/FederationHub.ts';
import { LinkMetrics } from './federation/relay/LinkMetrics.ts';
import { Federation } from './federation/trust/index.ts';
import { MetricsServer } from './MetricsServer.ts';
import { startupStep } from './startupError.ts';

export interface SftServerHooks {
	/** Serves HTTP paths on the client port besides socket.io (e.g. a web app); others get a 404. */
	httpHandler?: HttpHandler;
	/** Tests: send federation media through an impairment proxy (see RelayOptions). */
	remoteEndpointHook?: PipeEndpointHook;
}

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
	/** HMAC secret of client access tokens (configured, or generated in signalling.tokenSecretFile). */
	readonly tokenSecret: string;
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
		tokenSecret: string;
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
		this.tokenSecret = parts.tokenSecret;
		this.#logger = parts.logger;
	}

	static async start(config: SftConfig, logger: Logger, hooks: SftServerHooks = {}): Promise<SftServer> {
		const { media, signalling } = config;
		const token = await resolveTokenSecret(signalling);
		warnAboutTokenSettings(logger, signalling, token);
		const announcedAddress = media.announcedAddress ?? defaultAnnouncedAddress(media.listenIp);
		const socketBuffers = { recvBufferBytes: media.udpRecvBufferBytes, sendBufferBytes: media.udpSendBufferBytes };
		const allocator = resolveWorkerAllocator(media.workerAllocator);
		if (allocator.missing) logger.warn(`media.workerAllocator is jemalloc but ${allocator.missing}; workers use the system malloc`);
		const sft = await startupStep(mediaKeyOf, () =>
			Sft.create(
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
					socketBuffers,
					allocator,
				},
				logger.child({ component: 'sft' }),
			),
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
				federation = await startupStep('federation.listen', () =>
					Federation.start({ config: fed, logger: logger.child({ component: 'federation' }), registry }),
				);
				hub = new FederationHub(
					sft,
					federation,
					{
						domain: fed.domain,
						announcedEndpoint: fed.announcedHost ? { host: fed.announcedHost, port: federation.port } : undefined,
						dialDescriptorEndpoints: fed.dialDescriptorEndpoints,
						relay: {
							listenIp: media.listenIp,
							announcedAddress,
							portRange: { min: media.pipeMinPort, max: media.pipeMaxPort },
							socketBuffers,
							remoteEndpointHook: hooks.remoteEndpointHook,
						},
						relayModeFor: (domain) => fed.partnerRelay[domain]?.relayMode ?? fed.relayMode,
						linkMaxBitrateFor: (domain) => fed.partnerRelay[domain]?.linkMaxBitrate ?? fed.linkMaxBitrate,
						maxAudible: media.maxAudible,
						limits: {
							maxParticipantsPerConference: config.limits.maxParticipantsPerConference,
							maxProducersPerParticipant: config.limits.maxProducersPerClient,
						},
					},
					logger.child({ component: 'federated-conferences' }),
				);
				linkMetrics = new LinkMetrics(hub, registry, config.metrics.statsIntervalMs);
				linkWatch = new FederationLinkWatch(hub, linkMetrics);
			}
			const tls = await loadClientTls(signalling.certFile, signalling.keyFile);
			const webApp = signalling.webApp ? startWebApp(signalling, token, logger.child({ component: 'web-app' })) : undefined;
			clients = await startupStep('signalling.listen', () =>
				ClientServer.listen(
					sft,
					{
						ip: signalling.listen.ip,
						port: signalling.listen.port,
						tls,
						http: signalling.http,
						corsOrigins: signalling.corsOrigins,
						httpHandler: firstHandler(hooks.httpHandler, webApp),
						tokenSecret: token.secret,
						requireToken: signalling.requireToken,
						maxTokenLifetimeSeconds: signalling.maxTokenLifetimeSeconds,
						limits: config.limits,
						plainTransports: signalling.plainTransports,
						plainDestinations: signalling.plainDestinations,
						metrics: createClientMetrics(registry),
						hub,
						links: linkWatch,
					},
					logger.child({ component: 'signalling' }),
				),
			);
			metricsServer = await startupStep('metrics.listen', () =>
				MetricsServer.listen(registry, config.metrics.listen.ip, config.metrics.listen.port),
			);
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
				tokenSecret: token.secret,
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

/**
 * The web app at `/`. Development tokens (`auto`) go to this machine only
 * while the token secret is not the operator's: generated at first start.
 */
function startWebApp(signalling: SftConfig['signalling'], token: TokenSecret, logger: Logger): HttpHandler {
	const devTokens: DevTokenMode = signalling.devTokens === 'auto' ? (token.source === 'config' ? 'off' : 'loopback') : signalling.devTokens;
	if (devTokens === 'anyone-unsafe') {
		logger.warn(
			{ key: 'signalling.devTokens' },
			'UNSAFE: signalling.devTokens is anyone-unsafe: every machine that reaches the client port can get a token for any conference. Development only.',
		);
	}
	return webAppHandler({
		distDir: WEB_APP_DIR,
		devTokens,
		tokenSecret: token.secret,
		maxTokenLifetimeSeconds: signalling.maxTokenLifetimeSeconds,
		logger,
	});
}

/** Tries each handler in turn. */
function firstHandler(...handlers: (HttpHandler | undefined)[]): HttpHandler | undefined {
	const present = handlers.filter((h): h is HttpHandler => h !== undefined);
	if (present.length <= 1) return present[0];
	return async (request, response) => {
		for (const handle of present) if (await handle(request, response)) return true;
		return false;
	};
}

/** Which media key a worker start-up failure is about: the port when it is taken, else the address. */
function mediaKeyOf(error: unknown): string {
	const message = error instanceof Error ? error.message : '';
	return message.includes('address already in use') ? 'media.rtcBasePort' : 'media.listenIp';
}

/** Settings that let anyone who reaches the port in: said loudly at every start. */
function warnAboutTokenSettings(
	logger: Logger,
	signalling: SftConfig['signalling'],
	token: Awaited<ReturnType<typeof resolveTokenSecret>>,
): void {
	if (token.weakness) {
		logger.error(
			{ key: 'signalling.tokenSecret', weakness: token.weakness },
			`INSECURE: the token secret is weak (${token.weakness}); anyone who guesses it can mint tokens and start conferences. Set a long random signalling.tokenSecret or remove it to use a generated one.`,
		);
	}
	if (token.source === 'generated')
		logger.warn({ file: signalling.tokenSecretFile }, 'generated a random token secret; npm run token reads it from this file');
	if (!signalling.requireToken)
		logger.warn('INSECURE: signalling.requireToken is false; anyone who reaches the client port can start conferences');
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
