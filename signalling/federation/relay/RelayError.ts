/** Why a federated join or link request failed; the client protocol maps these to its own error codes. */
export type RelayErrorCode = 'conference_not_found' | 'federation_unavailable';

export class RelayError extends Error {
	readonly code: RelayErrorCode;

	constructor(code: RelayErrorCode, message: string) {
		super(message);
		this.name = 'RelayError';
		this.code = code;
	}
}
