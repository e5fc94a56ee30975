import { hostname } from 'node:os';
import { createSecureContext } from 'node:tls';
import { createCertificateAuthority, issueSftCertificate, parseCertificatesPem, readTextFile } from '../../certs/index.ts';
import { StartupError, startupStep } from '../startupError.ts';

export interface TlsPair {
	cert: string;
	key: string;
	selfSigned: boolean;
}

/**
 * TLS credentials for the client listener: the configured PEM files, or a
 * throw-away CA and certificate for localhost made at start (development only:
 * clients must skip verification or trust `cert`).
 */
export async function loadClientTls(certFile: string | undefined, keyFile: string | undefined): Promise<TlsPair> {
	if (certFile && keyFile) {
		const cert = await startupStep('signalling.certFile', () => readTextFile(certFile, 'signalling.certFile'));
		const key = await startupStep('signalling.keyFile', () => readTextFile(keyFile, 'signalling.keyFile'));
		await startupStep('signalling.certFile', async () => parseCertificatesPem(cert, `signalling.certFile ${certFile}`));
		try {
			createSecureContext({ cert, key });
		} catch (error) {
			throw new StartupError('signalling.keyFile', `${keyFile} is not the private key of ${certFile} (${(error as Error).message})`);
		}
		return { cert, key, selfSigned: false };
	}
	if (certFile || keyFile)
		throw new StartupError('signalling.keyFile', 'signalling.certFile and signalling.keyFile must be given together');
	const ca = await createCertificateAuthority({ commonName: 'SFT development CA', days: 30 });
	const issued = await issueSftCertificate({
		caCertificatePem: ca.certificatePem,
		caPrivateKeyPem: ca.privateKeyPem,
		domain: 'localhost',
		hosts: [hostname(), '127.0.0.1'],
		days: 30,
	});
	return { cert: `${issued.certificatePem}\n${ca.certificatePem}`, key: issued.privateKeyPem, selfSigned: true };
}
