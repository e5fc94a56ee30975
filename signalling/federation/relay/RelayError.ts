/** Why a federated join or link request failed; the client protocol maps these to its own error codes. */
export const RELAY_ERROR_CODES = ['conference_not_found', 'federation_unavailable', 'conference_full', 'too_many_producers'] as const;

export type RelayErrorCode = (typeof RELAY_ERROR_CODES)[number];

export class RelayError extends Error {
	readonly code: RelayErrorCode;

	constructor(code: RelayErrorCode, message: string) {
		super(message);
		this.name = 'RelayError';
		this.code = code;
	}
}
