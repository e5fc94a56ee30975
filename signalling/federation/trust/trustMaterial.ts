import { createSecureContext } from 'node:tls';
import { CertsError } from '../../../certs/certsError.ts';
import { type CertificateSummary, describeCertificate, dnsNamesOf } from '../../../certs/describeCertificate.ts';
import { parseCertificatesPem, readTextFile } from '../../../certs/pem.ts';
import { TrustBundle } from '../../../certs/trustBundle.ts';
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
		/** Non-fatal problems worth a log line (e.g. own certificate expired). */
		readonly warnings: readonly string[],
	) {}

	static async load(settings: TrustSettings, now = new Date()): Promise<TrustMaterial> {
		const [certificatePem, privateKeyPem, trustBundle] = await Promise.all([
			readTextFile(settings.certFile, 'federation certificate'),
			readTextFile(settings.keyFile, 'federation key'),
			TrustBundle.load(settings.trustBundleFile),
		]);
		const [leaf] = parseCertificatesPem(certificatePem, `federation certificate ${settings.certFile}`);
		if (!leaf) throw new CertsError(`federation certificate ${settings.certFile}: empty`);
		try {
			// The same check TLS will do at start: catches key/certificate mismatch early.
			createSecureContext({ cert: certificatePem, key: privateKeyPem });
		} catch (error) {
			throw new CertsError(`federation certificate/key ${settings.certFile} + ${settings.keyFile}: ${(error as Error).message}`);
		}
		if (!dnsNamesOf(leaf).includes(settings.domain)) {
			throw new CertsError(`federation certificate ${settings.certFile} does not name our domain ${settings.domain} in its SANs`);
		}
		const summary = describeCertificate(leaf, now);
		const warnings: string[] = [];
		if (summary.notAfter < now) warnings.push(`own federation certificate expired at ${summary.notAfter.toISOString()}`);
		if (summary.notBefore > now) warnings.push(`own federation certificate not valid before ${summary.notBefore.toISOString()}`);
		const allowedDomains = settings.allowAnyTrustedDomain ? undefined : new Set(settings.allowList);
		return new TrustMaterial(settings.domain, certificatePem, privateKeyPem, summary, trustBundle, allowedDomains, warnings);
	}

	isDomainAllowed(domain: string): boolean {
		return this.allowedDomains === undefined || this.allowedDomains.has(domain);
	}

	/** cert/key/ca for tls.createServer, setSecureContext and tls.connect. */
	tlsOptions(): { cert: string; key: string; ca: string } {
		return { cert: this.ownCertificatePem, key: this.ownPrivateKeyPem, ca: this.trustBundle.pem };
	}
}
