// Several domains' SftServers in one process with federation (per-domain CA
// and certificate, one trust bundle, allow lists): a copy of
// test/support/federatedDomains.ts with a wider plain-RTP port range (the
// bench opens two plain transports per load client) and bench media settings.
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createCertificateAuthority, issueSftCertificate } from '../certs/index.ts';
import type { RelayMode } from '../sft/MediaRelay.ts';
import { parseConfig } from '../signalling/config.ts';
import { SftServer } from '../signalling/SftServer.ts';

/** Client token secret of every bench SFT (the bench mints tokens for its WebRTC callers). */
export const BENCH_TOKEN_SECRET = 'federation-bench-secret-0123456789';

export interface FederatedSftsOptions {
	/** Domains; the first is meant to be the anchor. Every domain allows every other. */
	domains: string[];
	listenIp: string;
	maxVideos: number;
	maxAudible: number;
	/**
	 * Ports per domain: rtcBasePort, then the plain range, then 2 per domain
	 * (+4) for federation pipes, and the last one for the federation listener (TCP).
	 */
	portsPerDomain: number;
	/** First port of domain 0; random in 46000-48999 when omitted. */
	basePort?: number | undefined;
	logLevel?: string;
	/** Extra `media` settings for every domain (e.g. UDP buffer sizes). */
	media?: Record<string, unknown>;
	/** federation.relayMode of every SFT (default full). */
	relayMode?: RelayMode;
}

export class FederatedSfts {
	readonly servers = new Map<string, SftServer>();
	readonly #dir = mkdtempSync(join(tmpdir(), 'sft-bench-fed-'));

	static async start(options: FederatedSftsOptions): Promise<FederatedSfts> {
		const sfts = new FederatedSfts();
		try {
			const cas = new Map<string, { certificatePem: string; privateKeyPem: string }>();
			for (const domain of options.domains) cas.set(domain, await createCertificateAuthority({ commonName: `${domain} CA`, days: 2 }));
			const bundle = join(sfts.#dir, 'bundle.pem');
			writeFileSync(bundle, [...cas.values()].map((ca) => ca.certificatePem).join('\n'));
			const span = options.portsPerDomain;
			const firstPort =
				options.basePort ?? 46000 + randomInt(0, Math.floor(3000 / (span * options.domains.length))) * span * options.domains.length;
			const federationPort = (domain: string) => firstPort + options.domains.indexOf(domain) * span + span - 1;
			const pipePorts = 2 * options.domains.length + 4;
			let basePort = firstPort;
			for (const domain of options.domains) {
				const ca = cas.get(domain);
				if (!ca) throw new Error(`no CA for ${domain}`);
				const issued = await issueSftCertificate({
					caCertificatePem: ca.certificatePem,
					caPrivateKeyPem: ca.privateKeyPem,
					domain,
					days: 2,
				});
				const certFile = join(sfts.#dir, `${domain}.pem`);
				const keyFile = join(sfts.#dir, `${domain}.key`);
				writeFileSync(certFile, issued.certificatePem);
				writeFileSync(keyFile, issued.privateKeyPem, { mode: 0o600 });
				const config = parseConfig({
					signalling: { listen: { ip: options.listenIp, port: 0 }, tokenSecret: BENCH_TOKEN_SECRET },
					media: {
						workers: 1,
						listenIp: options.listenIp,
						rtcBasePort: basePort,
						rtcMinPort: basePort + 1,
						rtcMaxPort: basePort + span - 2 - pipePorts,
						pipeMinPort: basePort + span - 1 - pipePorts,
						pipeMaxPort: basePort + span - 2,
						maxVideos: options.maxVideos,
						maxAudible: options.maxAudible,
						audioLevelThreshold: -127,
						...options.media,
					},
					// A load bench measures the SFT, not the per-conference cap.
					limits: { maxParticipantsPerConference: 100_000 },
					// The bench polls the link metrics itself at the window edges; no background polls in between.
					metrics: { listen: { ip: options.listenIp, port: 0 }, statsIntervalMs: 3_600_000 },
					log: { level: options.logLevel ?? 'silent' },
					federation: {
						enabled: true,
						domain,
						listen: { ip: options.listenIp, port: federationPort(domain) },
						announcedHost: options.listenIp,
						certFile,
						keyFile,
						trustBundleFile: bundle,
						allowList: options.domains.filter((d) => d !== domain),
						relayMode: options.relayMode ?? 'full',
						peers: Object.fromEntries(
							options.domains.filter((d) => d !== domain).map((d) => [d, { host: options.listenIp, port: federationPort(d) }]),
						),
					},
				});
				basePort += span;
				sfts.servers.set(domain, await SftServer.start(config, pino({ level: config.log.level }, pino.destination(2))));
			}
			return sfts;
		} catch (error) {
			await sfts.close();
			throw error;
		}
	}

	server(domain: string): SftServer {
		const server = this.servers.get(domain);
		if (!server) throw new Error(`no SFT for ${domain}`);
		return server;
	}

	async close(): Promise<void> {
		for (const server of this.servers.values()) await server.close().catch(() => undefined);
		rmSync(this.#dir, { recursive: true, force: true });
	}
}
