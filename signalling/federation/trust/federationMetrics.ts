import { Counter, Gauge, type Registry } from 'prom-client';
import { REFUSAL_REASONS, type RefusalReason } from '../../../certs/refusalReason.ts';

export interface FederationMetrics {
	/** Refused handshakes (both directions), by RefusalReason. */
	handshakeRefusals: Counter<'reason'>;
	/** Established authenticated links, by remote domain. */
	connections: Gauge<'remote_domain'>;
	countRefusal(reason: RefusalReason): void;
	connectionOpened(remoteDomain: string): void;
	connectionClosed(remoteDomain: string): void;
}

/**
 * Registers the federation metrics in the caller's registry.
 * `ownCertificateNotAfter` is read at scrape time so the expiry gauge is always
 * current without a timer, and follows certificate reloads automatically.
 */
export function createFederationMetrics(registry: Registry, ownCertificateNotAfter: () => Date | undefined): FederationMetrics {
	new Gauge({
		name: 'sft_federation_certificate_expiry_seconds',
		help: "Seconds until this SFT's own federation certificate expires (negative once expired)",
		registers: [registry],
		collect() {
			const notAfter = ownCertificateNotAfter();
			if (notAfter) this.set((notAfter.getTime() - Date.now()) / 1000);
		},
	});
	const handshakeRefusals = new Counter({
		name: 'sft_federation_handshake_refusals_total',
		help: 'Federation handshakes refused, by reason',
		labelNames: ['reason'] as const,
		registers: [registry],
	});
	// Pre-create every series so rate() and alerts see 0 rather than "no data".
	for (const reason of REFUSAL_REASONS) handshakeRefusals.inc({ reason }, 0);
	const connections = new Gauge({
		name: 'sft_federation_connections',
		help: 'Established authenticated federation links, by remote domain',
		labelNames: ['remote_domain'] as const,
		registers: [registry],
	});
	return {
		handshakeRefusals,
		connections,
		countRefusal: (reason) => handshakeRefusals.inc({ reason }),
		connectionOpened: (remoteDomain) => connections.inc({ remote_domain: remoteDomain }),
		connectionClosed: (remoteDomain) => connections.dec({ remote_domain: remoteDomain }),
	};
}
