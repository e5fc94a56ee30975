import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createCertificateAuthority, issueSftCertificate } from '../../certs/index.ts';
import { type AccessRight, mintAccessToken } from '../../signalling/client/accessToken.ts';
import { parseConfig, type SftConfig } from '../../signalling/config.ts';
import { SftServer } from '../../signalling/SftServer.ts';

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

/**
 * Several domains' SFTs in one process, each with its own CA and federation
 * certificate; every SFT trusts every CA, so the allow lists decide.
 */
export class FederatedDomains {
	readonly servers = new Map<string, SftServer>();
	readonly configs = new Map<string, SftConfig>();
	readonly #dir = mkdtempSync(join(tmpdir(), 'sft-fed-'));

	static async start(specs: DomainSpec[]): Promise<FederatedDomains> {
		const domains = new FederatedDomains();
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
					signalling: { listen: { ip: '127.0.0.1', port: 0 }, tokenSecret: TOKEN_SECRET },
					media: {
						workers: 1,
						listenIp: '127.0.0.1',
						rtcBasePort: basePort,
						rtcMinPort: basePort + 1,
						rtcMaxPort: basePort + Math.min(30, plainPorts),
						pipeMinPort: basePort + 31,
						pipeMaxPort: basePort + 47,
					},
					metrics: { listen: { ip: '127.0.0.1', port: 0 }, statsIntervalMs: 500 },
					log: { level: process.env['SFT_TEST_LOG'] ?? 'silent' },
					federation: {
						enabled: true,
						domain,
						listen: { ip: '127.0.0.1', port: federationPorts.get(domain) },
						announcedHost: '127.0.0.1',
						certFile,
						keyFile,
						trustBundleFile: bundle,
						allowList: allow,
						// Static partner entries, as without DNS; descriptor endpoints are not dialled.
						peers: Object.fromEntries(allow.map((partner) => [partner, { host: '127.0.0.1', port: federationPorts.get(partner) }])),
						...federation,
					},
				});
				basePort += block;
				domains.configs.set(domain, config);
				domains.servers.set(domain, await SftServer.start(config, pino({ level: config.log.level })));
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

	url(domain: string): string {
		return `https://127.0.0.1:${this.server(domain).clients.port}`;
	}

	/** Grants plain transports: the test clients send and receive raw RTP. */
	token(user: string, conference: string, right: AccessRight): string {
		return mintAccessToken({ user, conference, right, exp: Math.floor(Date.now() / 1000) + 600, plain: true }, TOKEN_SECRET);
	}

	async close(): Promise<void> {
		for (const server of this.servers.values()) await server.close().catch(() => undefined);
		rmSync(this.#dir, { recursive: true, force: true });
	}
}
