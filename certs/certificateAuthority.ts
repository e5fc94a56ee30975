import { exportPrivateKeyPem, FEDERATION_SIGNING_ALGORITHM, generateFederationKeyPair } from './signingKey.ts';
import { randomSerialNumber, validityWindow } from './validity.ts';
import { nodeCrypto, x509 } from './x509Runtime.ts';

export interface IssuedCredentials {
	certificate: x509.X509Certificate;
	certificatePem: string;
	privateKeyPem: string;
}

export interface CreateCertificateAuthorityOptions {
	/** Common name of the CA, e.g. "Example Org SFT Federation CA". */
	commonName?: string;
	/** Lifetime in days (default 3650). */
	days?: number;
	now?: Date;
}

/** Creates a self-signed federation CA: ECDSA P-256, CA:TRUE critical, keyCertSign + cRLSign. */
export async function createCertificateAuthority(options: CreateCertificateAuthorityOptions = {}): Promise<IssuedCredentials> {
	const { notBefore, notAfter } = validityWindow(options.days ?? 3650, options.now ?? new Date());
	const keys = await generateFederationKeyPair();
	const certificate = await x509.X509CertificateGenerator.createSelfSigned(
		{
			serialNumber: randomSerialNumber(),
			name: new x509.Name([{ CN: [options.commonName ?? 'SFT Federation CA'] }]),
			notBefore,
			notAfter,
			signingAlgorithm: FEDERATION_SIGNING_ALGORITHM,
			keys,
			extensions: [
				// pathLength 0: a federation CA signs SFT certificates directly, never sub-CAs.
				new x509.BasicConstraintsExtension(true, 0, true),
				new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
				await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, nodeCrypto),
			],
		},
		nodeCrypto,
	);
	return {
		certificate,
		certificatePem: `${certificate.toString('pem')}\n`,
		privateKeyPem: await exportPrivateKeyPem(keys.privateKey),
	};
}
