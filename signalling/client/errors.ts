import { MediaError } from '../../sft/MediaError.ts';
import { RelayError } from '../federation/relay/RelayError.ts';

/** Stable error codes sent in error acknowledgements; clients switch on these. */
export type SignallingErrorCode =
	| 'bad_request'
	| 'payload_too_large'
	| 'unknown_method'
	| 'not_joined'
	| 'already_joined'
	| 'token_missing'
	| 'token_invalid'
	| 'token_expired'
	| 'token_wrong_conference'
	| 'conference_not_found'
	| 'federation_unavailable'
	| 'federation_disabled'
	| 'internal_error'
	| MediaError['code']
	| RelayError['code'];

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
