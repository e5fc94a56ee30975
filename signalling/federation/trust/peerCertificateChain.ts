import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';

/**
 * DER certificates of the peer, leaf first, as far as OpenSSL exposes them.
 * The list may include a root OpenSSL matched from our `ca`; that is harmless
 * because certs/ only ever trusts anchors from the trust bundle itself.
 */
export function peerCertificateChain(socket: TLSSocket): Uint8Array[] {
	const chain: Uint8Array[] = [];
	let current: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
	const seen = new Set<DetailedPeerCertificate>();
	// An empty object (no `raw`) means the peer sent no certificate.
	while (current?.raw && !seen.has(current)) {
		seen.add(current);
		chain.push(new Uint8Array(current.raw));
		current = current.issuerCertificate;
	}
	return chain;
}
