import { createSecureContext } from 'node:tls';
import { CertsError } from '../../../certs/certsError.ts';
import { type CertificateSummary, describeCertificate, dnsNamesOf } from '../../../certs/describeCertificate.ts';
import { parseCertificatesPem, readTextFile } from '../../../certs/pem.ts';
import { TrustBundle } from '../../../certs/trustBundle.ts';
import { getOrInsert } from '../../../sft/getOrInsert.ts';
import type { EnabledFederationConfig } from './federationConfig.ts';

type TrustSettings = Pick<
	EnabledFederationConfig,
	'domain' | 'certFile' | 'keyFile' | 'trustBundleFile' | 'allowList' | 'allowAnyTrustedDomain'
>;

/**
 * One immutable snapshot of everything trust depends on: our identity
 * (certificate + key), whom we trust (bundle) and whom we talk to (allow list).
 * A reload builds a new snapshot and swaps it in, so a half-written file can
 * never leave the server with a mismatched certificate and key.
 */
export class TrustMaterial {
	private constructor(
		readonly localDomain: string,
		readonly ownCertificatePem: string,
		readonly ownPrivateKeyPem: string,
		readonly ownCertificate: CertificateSummary,
		readonly trustBundle: TrustBundle,
		/** undefined = allowAnyTrustedDomain. */
		readonly allowedDomains: ReadonlySet<string> | undefined,
		/** Domain → SHA-256 of the CAs allowed to certify it (allow-list entries with `issuers`). */
		readonly pinnedIssuers: ReadonlyMap<string, ReadonlySet<string>>,
		/** Non-fatal problems worth a log line (e.g. own certificate expired). */
		readonly warnings: readonly string[],
	) {}

	static async load(settings: TrustSettings, now = new Date()): Promise<TrustMaterial> {
		const [certificatePem, privateKeyPem, trustBundle] = await Promise.all([
			readTextFile(settings.certFile, 'federation.certFile'),
			readTextFile(settings.keyFile, 'federation.keyFile'),
			readTextFile(settings.trustBundleFile, 'federation.trustBundleFile').then((pem) =>
				TrustBundle.fromPem(pem, `federation.trustBundleFile ${settings.trustBundleFile}`),
			),
		]);
		const [leaf] = parseCertificatesPem(certificatePem, `federation.certFile ${settings.certFile}`);
		if (!leaf) throw new CertsError(`federation.certFile ${settings.certFile}: empty`);
		try {
			// The same check TLS will do at start: catches key/certificate mismatch early.
			createSecureContext({ cert: certificatePem, key: privateKeyPem });
		} catch (error) {
			throw new CertsError(
				`federation.keyFile ${settings.keyFile}: not the private key of federation.certFile ${settings.certFile} (${(error as Error).message})`,
			);
		}
		if (!dnsNamesOf(leaf).includes(settings.domain)) {
			throw new CertsError(`federation.certFile ${settings.certFile} does not name our domain ${settings.domain} in its SANs`);
		}
		const summary = describeCertificate(leaf, now);
		const warnings: string[] = [];
		if (summary.notAfter < now) warnings.push(`own federation certificate expired at ${summary.notAfter.toISOString()}`);
		if (summary.notBefore > now) warnings.push(`own federation certificate not valid before ${summary.notBefore.toISOString()}`);
		const domains = settings.allowList.map((entry) => (typeof entry === 'string' ? entry : entry.domain));
		const allowedDomains = settings.allowAnyTrustedDomain ? undefined : new Set(domains);
		const pinnedIssuers = new Map<string, Set<string>>();
		for (const entry of settings.allowList) {
			if (typeof entry === 'string') continue;
			for (const issuer of entry.issuers) getOrInsert(pinnedIssuers, entry.domain, () => new Set<string>()).add(issuer);
		}
		return new TrustMaterial(settings.domain, certificatePem, privateKeyPem, summary, trustBundle, allowedDomains, pinnedIssuers, warnings);
	}

	isDomainAllowed(domain: string): boolean {
		return this.allowedDomains === undefined || this.allowedDomains.has(domain);
	}

	/** cert/key/ca for tls.createServer, setSecureContext and tls.connect. */
	tlsOptions(): { cert: string; key: string; ca: string } {
		return { cert: this.ownCertificatePem, key: this.ownPrivateKeyPem, ca: this.trustBundle.pem };
	}
}
