import { Counter, type Registry } from 'prom-client';
import { SIGNALLING_ERROR_CODES, type SignallingErrorCode } from './errors.ts';

/** Why the client listener closed or refused a connection before any request was served. */
export const CONNECTION_REFUSALS = [
	'connection_limit',
	'address_limit',
	'handshake_timeout',
	'tls_error',
	'request_timeout',
	'bad_http',
	'not_found',
	'origin_not_allowed',
	'message_too_large',
] as const;

export type ConnectionRefusal = (typeof CONNECTION_REFUSALS)[number];

export interface ClientMetrics {
	connectionRefused(reason: ConnectionRefusal): void;
	requestRefused(code: SignallingErrorCode): void;
}

/** Refusals on the client port, pre-created at 0 so alerts see a rate from the start. */
export function createClientMetrics(registry: Registry): ClientMetrics {
	const connections = new Counter({
		name: 'sft_client_connection_refusals_total',
		help: 'Connections to the client port refused or closed before being served, by reason',
		labelNames: ['reason'] as const,
		registers: [registry],
	});
	for (const reason of CONNECTION_REFUSALS) connections.inc({ reason }, 0);
	const requests = new Counter({
		name: 'sft_client_request_errors_total',
		help: 'Client signalling requests answered with an error, by error code',
		labelNames: ['code'] as const,
		registers: [registry],
	});
	for (const code of new Set(SIGNALLING_ERROR_CODES)) requests.inc({ code }, 0);
	return {
		connectionRefused: (reason) => connections.inc({ reason }),
		requestRefused: (code) => requests.inc({ code }),
	};
}
