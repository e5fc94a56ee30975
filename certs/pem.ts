import { readFile } from 'node:fs/promises';
import { CertsError } from './certsError.ts';
import { x509 } from './x509Runtime.ts';

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;

/** Wraps DER bytes as PEM with the usual 64-column base64 body. */
export function derToPem(der: ArrayBuffer | Uint8Array, label: string): string {
	const base64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
	const lines = base64.match(/.{1,64}/g) ?? [];
	return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * Parses every CERTIFICATE block of a PEM text (a chain or a trust bundle).
 * Text outside the blocks (comments, `openssl x509 -text` output) is ignored,
 * which is what operators expect from a bundle file.
 */
export function parseCertificatesPem(pem: string, source = 'input'): x509.X509Certificate[] {
	const certificates: x509.X509Certificate[] = [];
	for (const match of pem.matchAll(CERTIFICATE_BLOCK)) {
		const body = (match[1] ?? '').replace(/\s+/g, '');
		try {
			certificates.push(new x509.X509Certificate(Buffer.from(body, 'base64')));
		} catch {
			throw new CertsError(`${source}: certificate #${certificates.length + 1} is not a valid X.509 certificate`);
		}
	}
	if (certificates.length === 0) throw new CertsError(`${source}: no PEM certificate found`);
	return certificates;
}

/** Parses one DER certificate; returns null instead of throwing on garbage. */
export function parseCertificateDer(der: Uint8Array): x509.X509Certificate | null {
	try {
		return new x509.X509Certificate(new Uint8Array(der)); // copy: the library wants a plain ArrayBuffer view
	} catch {
		return null;
	}
}

/** Reads a text file, turning file-system errors into operator-readable ones. */
export async function readTextFile(path: string, what: string): Promise<string> {
	try {
		return await readFile(path, 'utf8');
	} catch (error) {
		const code = (error as NodeJS.ErrnoException).code;
		if (code === 'ENOENT') throw new CertsError(`${what} ${path}: file not found`);
		if (code === 'EACCES') throw new CertsError(`${what} ${path}: permission denied`);
		if (code === 'EISDIR') throw new CertsError(`${what} ${path}: is a directory`);
		throw new CertsError(`${what} ${path}: cannot read (${code ?? String(error)})`);
	}
}

export async function readCertificatesFile(path: string, what: string): Promise<x509.X509Certificate[]> {
	return parseCertificatesPem(await readTextFile(path, what), `${what} ${path}`);
}
