import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { createCertificateAuthority, issueSftCertificate } from '../../certs/index.ts';

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
		return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8'), selfSigned: false };
	}
	if (certFile || keyFile) throw new Error('signalling.certFile and signalling.keyFile must be given together');
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
