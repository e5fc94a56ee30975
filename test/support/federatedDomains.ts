import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createCertificateAuthority, issueSftCertificate } from '../../certs/index.ts';
import { type AccessRight, mintAccessToken } from '../../signalling/client/accessToken.ts';
import { parseConfig, type SftConfig } from '../../signalling/config.ts';
import type { ConferenceLink } from '../../signalling/federation/relay/ConferenceLink.ts';
import { SftServer, type SftServerHooks } from '../../signalling/SftServer.ts';
import { NetworkPath } from './networkPaths.ts';

export const TOKEN_SECRET = 'federation-test-secret-0123456789';

export interface DomainSpec {
	domain: string;
	/** Domains this SFT federates with. */
	allow: string[];
	/** Extra `federation` settings (e.g. relayMode, linkMaxBitrate). */
	federation?: Record<string, unknown>;
	/** Size of the plain-RTP port range (default 8, at most 30). */
	plainPorts?: number;
}

export interface FederatedDomainsOptions {
	/**
	 * Put a NetworkPath between every pair of partners: federation links go
	 * through TCP proxies and pipe media through impaired UDP wires, so tests
	 * can add loss or black-hole a path.
	 */
	networkPaths?: boolean;
	/** Extra `media` settings for every domain. */
	media?: Record<string, unknown>;
	/** Extra `signalling` settings for every domain (e.g. corsOrigins for a browser page). */
	signalling?: Record<string, unknown>;
	/** Address every listener binds to (default 127.0.0.1), e.g. the host end of a browser's veth pair. */
	ip?: string;
}

/**
 * Several domains' SFTs in one process, each with its own CA and federation
 * certificate; every SFT trusts every CA, so the allow lists decide.
 */
export class FederatedDomains {
	readonly servers = new Map<string, SftServer>();
	readonly configs = new Map<string, SftConfig>();
	readonly #dir = mkdtempSync(join(tmpdir(), 'sft-fed-'));
	readonly #paths = new Map<string, NetworkPath>();
	#ip = '127.0.0.1';
	/** Each domain's pipe port range, to tell whose a pipe endpoint is. */
	readonly #pipeRanges = new Map<string, { min: number; max: number }>();

	static async start(specs: DomainSpec[], options: FederatedDomainsOptions = {}): Promise<FederatedDomains> {
		const domains = new FederatedDomains();
		const ip = options.ip ?? '127.0.0.1';
		domains.#ip = ip;
		try {
			const cas = new Map<string, { certificatePem: string; privateKeyPem: string }>();
			for (const { domain } of specs) cas.set(domain, await createCertificateAuthority({ commonName: `${domain} CA`, days: 2 }));
			const bundle = join(domains.#dir, 'bundle.pem');
			writeFileSync(bundle, [...cas.values()].map((ca) => ca.certificatePem).join('\n'));
			// base: WebRTC; base+1…: plain range; base+31…+47: pipes; base+59: federation listener.
			const block = 60;
			const slots = Math.floor((60_000 - 42_000) / (block * specs.length));
			const firstPort = 42000 + Math.floor(Math.random() * slots) * block * specs.length;
			const federationPorts = new Map(specs.map(({ domain }, i) => [domain, firstPort + i * block + block - 1]));
			let basePort = firstPort;
			const peerPorts = new Map<string, number>();
			if (options.networkPaths) {
				for (const { domain, allow } of specs) {
					for (const partner of allow) {
						const port = await domains.path(domain, partner).addDialler(domain, {
							domain: partner,
							host: '127.0.0.1',
							port: federationPorts.get(partner)!,
						});
						peerPorts.set(`${domain}>${partner}`, port);
					}
				}
			}
			for (const { domain, allow, federation, plainPorts = 8 } of specs) {
				const ca = cas.get(domain)!;
				const issued = await issueSftCertificate({
					caCertificatePem: ca.certificatePem,
					caPrivateKeyPem: ca.privateKeyPem,
					domain,
					days: 2,
				});
				const certFile = join(domains.#dir, `${domain}.pem`);
				const keyFile = join(domains.#dir, `${domain}.key`);
				writeFileSync(certFile, issued.certificatePem);
				writeFileSync(keyFile, issued.privateKeyPem, { mode: 0o600 });
				const config = parseConfig({
					signalling: { listen: { ip: ip, port: 0 }, tokenSecret: TOKEN_SECRET, ...options.signalling },
					media: {
						workers: 1,
						listenIp: ip,
						rtcBasePort: basePort,
						rtcMinPort: basePort + 1,
						rtcMaxPort: basePort + Math.min(30, plainPorts),
						pipeMinPort: basePort + 31,
						pipeMaxPort: basePort + 47,
						...options.media,
					},
					metrics: { listen: { ip: '127.0.0.1', port: 0 }, statsIntervalMs: 500 },
					log: { level: process.env['SFT_TEST_LOG'] ?? 'silent' },
					federation: {
						enabled: true,
						domain,
						listen: { ip: ip, port: federationPorts.get(domain) },
						announcedHost: ip,
						certFile,
						keyFile,
						trustBundleFile: bundle,
						allowList: allow,
						// Static partner entries, as without DNS; descriptor endpoints are not dialled.
						peers: Object.fromEntries(
							allow.map((partner) => [partner, { host: ip, port: peerPorts.get(`${domain}>${partner}`) ?? federationPorts.get(partner) }]),
						),
						...federation,
					},
				});
				domains.#pipeRanges.set(domain, { min: basePort + 31, max: basePort + 47 });
				basePort += block;
				domains.configs.set(domain, config);
				const hooks: SftServerHooks = options.networkPaths
					? {
							remoteEndpointHook: (local, remote) =>
								domains.path(domains.#pipeOwner(local.port), domains.#pipeOwner(remote.port)).route(local, remote),
						}
					: {};
				domains.servers.set(domain, await SftServer.start(config, pino({ level: config.log.level }), hooks));
			}
			return domains;
		} catch (error) {
			await domains.close();
			throw error;
		}
	}

	server(domain: string): SftServer {
		const server = this.servers.get(domain);
		if (!server) throw new Error(`no SFT for ${domain}`);
		return server;
	}

	/** `domain`'s federation link to `peer` for one conference; throws when there is none. */
	link(domain: string, conferenceId: string, peer: string): ConferenceLink {
		const link = this.server(domain)
			.hub?.linksOf(conferenceId)
			.find((l) => l.peerDomain === peer);
		if (!link) throw new Error(`no link ${domain} → ${peer}`);
		return link;
	}

	/** The network between two domains (with `networkPaths`). */
	path(a: string, b: string): NetworkPath {
		const pair = [a, b].sort() as [string, string];
		const key = pair.join('|');
		let path = this.#paths.get(key);
		if (!path) {
			path = new NetworkPath(pair, this.#paths.size * 1000 + 1);
			this.#paths.set(key, path);
		}
		return path;
	}

	#pipeOwner(port: number): string {
		for (const [domain, range] of this.#pipeRanges) if (port >= range.min && port <= range.max) return domain;
		throw new Error(`no domain owns pipe port ${port}`);
	}

	url(domain: string): string {
		return `https://${this.#ip}:${this.server(domain).clients.port}`;
	}

	/** Grants plain transports: the test clients send and receive raw RTP. */
	token(user: string, conference: string, right: AccessRight): string {
		return mintAccessToken({ user, conference, right, exp: Math.floor(Date.now() / 1000) + 600, plain: true }, TOKEN_SECRET);
	}

	async close(): Promise<void> {
		for (const server of this.servers.values()) await server.close().catch(() => undefined);
		for (const path of this.#paths.values()) await path.close();
		rmSync(this.#dir, { recursive: true, force: true });
	}
}
