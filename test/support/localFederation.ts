import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificateAuthority, issueSftCertificate } from '../../certs/index.ts';
import { type AccessRight, mintAccessToken } from '../../signalling/client/accessToken.ts';
import { LocalSftProcess } from './localSftProcess.ts';
import { PlainSignallingPeer } from './plainSignallingPeer.ts';

const TOKEN_SECRET = 'local-federation-secret-0123456789abcdef';

/**
 * Several domains' SFTs as real processes on 127.0.0.1, each with its own CA
 * and federation certificate, every one a partner of every other (static
 * peers). A domain can be killed (SIGKILL to its process group) and started
 * again with the same configuration.
 */
export class LocalFederation {
	readonly #dir = mkdtempSync(join(tmpdir(), 'sft-local-fed-'));
	readonly #configs = new Map<string, Record<string, unknown>>();
	readonly processes = new Map<string, LocalSftProcess>();
	readonly #callers: PlainSignallingPeer[] = [];

	static async start(domains: string[]): Promise<LocalFederation> {
		const federation = new LocalFederation();
		const block = 60;
		const firstPort = 46_000 + Math.floor(Math.random() * Math.floor(10_000 / (block * domains.length))) * block * domains.length;
		const federationPort = (i: number) => firstPort + i * block + block - 1;
		const cas = await Promise.all(domains.map((domain) => createCertificateAuthority({ commonName: `${domain} CA`, days: 2 })));
		const bundle = join(federation.#dir, 'bundle.pem');
		writeFileSync(bundle, cas.map((ca) => ca.certificatePem).join('\n'));
		for (const [i, domain] of domains.entries()) {
			const ca = cas[i];
			if (!ca) throw new Error('no CA');
			const issued = await issueSftCertificate({ caCertificatePem: ca.certificatePem, caPrivateKeyPem: ca.privateKeyPem, domain, days: 2 });
			const certFile = join(federation.#dir, `${domain}.pem`);
			const keyFile = join(federation.#dir, `${domain}.key`);
			writeFileSync(certFile, issued.certificatePem);
			writeFileSync(keyFile, issued.privateKeyPem, { mode: 0o600 });
			const base = firstPort + i * block;
			const partners = domains.filter((d) => d !== domain);
			federation.#configs.set(domain, {
				signalling: { listen: { ip: '127.0.0.1', port: 0 }, tokenSecret: TOKEN_SECRET },
				metrics: { listen: { ip: '127.0.0.1', port: 0 } },
				media: {
					workers: 1,
					listenIp: '127.0.0.1',
					rtcBasePort: base,
					rtcMinPort: base + 1,
					rtcMaxPort: base + 20,
					pipeMinPort: base + 21,
					pipeMaxPort: base + 40,
				},
				shutdown: { drainSeconds: 0 },
				log: { level: 'info' },
				federation: {
					enabled: true,
					domain,
					listen: { ip: '127.0.0.1', port: federationPort(i) },
					announcedHost: '127.0.0.1',
					certFile,
					keyFile,
					trustBundleFile: bundle,
					allowList: partners,
					peers: Object.fromEntries(partners.map((p) => [p, { host: '127.0.0.1', port: federationPort(domains.indexOf(p)) }])),
				},
			});
		}
		try {
			await Promise.all(domains.map((domain) => federation.startDomain(domain)));
		} catch (error) {
			federation.close();
			throw error;
		}
		return federation;
	}

	/** Starts (or starts again) a domain's SFT process. */
	async startDomain(domain: string): Promise<LocalSftProcess> {
		const config = this.#configs.get(domain);
		if (!config) throw new Error(`no domain ${domain}`);
		const sft = await LocalSftProcess.start({ config, dir: this.#dir, name: domain });
		this.processes.set(domain, sft);
		return sft;
	}

	sft(domain: string): LocalSftProcess {
		const sft = this.processes.get(domain);
		if (!sft) throw new Error(`no SFT for ${domain}`);
		return sft;
	}

	/** Grants plain transports: the test clients send and receive raw RTP. */
	token(user: string, conference: string, right: AccessRight): string {
		return mintAccessToken({ user, conference, right, exp: Math.floor(Date.now() / 1000) + 600, plain: true }, TOKEN_SECRET);
	}

	/** A raw-RTP caller that joins through `domain`'s SFT, consumes what is announced and talks (closed with the federation). */
	async audioCaller(domain: string, user: string, conferenceId: string, right: AccessRight, descriptor?: unknown) {
		const peer = await PlainSignallingPeer.connect(this.sft(domain).clientUrl);
		this.#callers.push(peer);
		const joined = await peer.join({ token: this.token(user, conferenceId, right), conferenceId, descriptor });
		peer.consumeAnnounced();
		await peer.sendAudio(1000 + this.#callers.length);
		return { peer, id: joined['participantId'] as string, descriptor: joined['descriptor'] };
	}

	close(): void {
		for (const peer of this.#callers) peer.close();
		for (const sft of this.processes.values()) sft.kill();
		rmSync(this.#dir, { recursive: true, force: true });
	}
}
