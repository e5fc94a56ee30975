import { MEDIA_ERROR_CODES, MediaError } from '../../sft/MediaError.ts';
import { RELAY_ERROR_CODES, RelayError } from '../federation/relay/RelayError.ts';

/** Stable error codes sent in error acknowledgements; clients switch on these. */
export const SIGNALLING_ERROR_CODES = [
	'bad_request',
	'payload_too_large',
	'payload_too_deep',
	'unknown_method',
	'not_joined',
	'already_joined',
	'join_in_progress',
	'token_missing',
	'token_invalid',
	'token_expired',
	'token_lifetime_too_long',
	'token_wrong_conference',
	'user_id_too_long',
	'conference_not_found',
	'conference_full',
	'too_many_transports',
	'too_many_producers',
	'too_many_consumers',
	'app_data_too_large',
	'plain_not_allowed',
	'plain_destination_not_allowed',
	'federation_unavailable',
	'federation_disabled',
	'internal_error',
	...MEDIA_ERROR_CODES,
	...RELAY_ERROR_CODES,
] as const;

export type SignallingErrorCode = (typeof SIGNALLING_ERROR_CODES)[number];

export class SignallingError extends Error {
	readonly code: SignallingErrorCode;

	constructor(code: SignallingErrorCode, message: string) {
		super(message);
		this.name = 'SignallingError';
		this.code = code;
	}
}

export interface ErrorBody {
	code: SignallingErrorCode;
	message: string;
}

/** Turns anything thrown by a handler into a code and a sentence for the client. */
export function toErrorBody(error: unknown): ErrorBody {
	if (error instanceof SignallingError || error instanceof MediaError || error instanceof RelayError) {
		return { code: error.code, message: error.message };
	}
	return { code: 'internal_error', message: 'the server could not handle this request' };
}
