import { isIP } from 'node:net';
import type { IssuedCredentials } from './certificateAuthority.ts';
import { CertsError } from './certsError.ts';
import { normalizeDomain } from './domainName.ts';
import { parseCertificatesPem } from './pem.ts';
import { exportPrivateKeyPem, generateFederationKeyPair, importSigningKey } from './signingKey.ts';
import { randomSerialNumber, validityWindow } from './validity.ts';
import { nodeCrypto, x509 } from './x509Runtime.ts';

export interface IssueSftCertificateOptions {
	caCertificatePem: string;
	caPrivateKeyPem: string;
	/** The organisation's federation domain; becomes CN and the first DNS SAN. */
	domain: string;
	/** Extra SANs: host names of the SFT machines (IP addresses become IP SANs). */
	hosts?: readonly string[];
	/** Lifetime in days (default 365). */
	days?: number;
	now?: Date;
}

/**
 * Issues an SFT certificate usable in both federation roles: the same SFT dials
 * out (clientAuth) and accepts calls (serverAuth).
 */
export async function issueSftCertificate(options: IssueSftCertificateOptions): Promise<IssuedCredentials & { warnings: string[] }> {
	const domain = normalizeDomain(options.domain);
	if (!domain) throw new CertsError(`invalid domain "${options.domain}"`);
	const subjectAltNames = sanEntries(domain, options.hosts ?? []);
	const { notBefore, notAfter } = validityWindow(options.days ?? 365, options.now ?? new Date());

	const [caCertificate] = parseCertificatesPem(options.caCertificatePem, 'CA certificate');
	if (!caCertificate) throw new CertsError('CA certificate: empty');
	const basic = caCertificate.getExtension(x509.BasicConstraintsExtension);
	if (!basic?.ca) throw new CertsError(`CA certificate ${caCertificate.subject} is not a CA (basicConstraints CA:TRUE missing)`);
	const caKey = await importSigningKey(options.caPrivateKeyPem, 'CA key');
	if (!Buffer.from(caKey.publicKeySpki).equals(Buffer.from(caCertificate.publicKey.rawData))) {
		throw new CertsError('CA key does not match the CA certificate');
	}
	const warnings: string[] = [];
	if (notAfter > caCertificate.notAfter) {
		// Not fatal, but peers will refuse the certificate once the CA expires.
		warnings.push(`certificate outlives its CA (CA expires ${caCertificate.notAfter.toISOString()})`);
	}

	const keys = await generateFederationKeyPair();
	const certificate = await x509.X509CertificateGenerator.create(
		{
			serialNumber: randomSerialNumber(),
			subject: new x509.Name([{ CN: [domain] }]),
			issuer: caCertificate.subjectName,
			notBefore,
			notAfter,
			signingAlgorithm: caKey.signingAlgorithm,
			publicKey: keys.publicKey,
			signingKey: caKey.privateKey,
			extensions: [
				new x509.BasicConstraintsExtension(false, undefined, true),
				new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
				new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false),
				new x509.SubjectAlternativeNameExtension(subjectAltNames, false),
				await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, nodeCrypto),
				await x509.AuthorityKeyIdentifierExtension.create(caCertificate.publicKey, false, nodeCrypto),
			],
		},
		nodeCrypto,
	);
	return {
		certificate,
		certificatePem: `${certificate.toString('pem')}\n`,
		privateKeyPem: await exportPrivateKeyPem(keys.privateKey),
		warnings,
	};
}

function sanEntries(domain: string, hosts: readonly string[]): x509.JsonGeneralNames {
	const entries: x509.JsonGeneralNames = [{ type: 'dns', value: domain }];
	for (const host of hosts) {
		if (isIP(host)) {
			entries.push({ type: 'ip', value: host });
			continue;
		}
		const name = normalizeDomain(host);
		if (!name) throw new CertsError(`invalid host "${host}"`);
		if (!entries.some((entry) => entry.value === name)) entries.push({ type: 'dns', value: name });
	}
	return entries;
}
