import type { Logger } from 'pino';
import type { RefusalReason } from '../../../certs/refusalReason.ts';
import type { FederationMetrics } from './federationMetrics.ts';

/** One refused federation handshake, as logged and as emitted in `'refused'` events. */
export interface RefusalEvent {
	reason: RefusalReason;
	/** inbound: a peer called us; outbound: we called a peer and refused it. */
	direction: 'inbound' | 'outbound';
	/** Operator-facing explanation; never sent to the peer. */
	detail: string;
	remoteAddress?: string | undefined;
	/** The domain the peer claimed (inbound) or we dialled (outbound), if known. */
	domain?: string | undefined;
}

export type RefusalRecorder = (event: RefusalEvent) => void;

/** The single place refusals become a log line and a metric increment, so the two never drift apart. */
export function createRefusalRecorder(logger: Logger, metrics: FederationMetrics, notify: (event: RefusalEvent) => void): RefusalRecorder {
	return (event) => {
		metrics.countRefusal(event.reason);
		logger.warn({ ...event }, `federation ${event.direction} peer refused: ${event.reason}`);
		notify(event);
	};
}
