/** Stable codes for refusals from the media plane; signalling passes them on to clients. */
export type MediaErrorCode =
	| 'unknown_transport'
	| 'unknown_producer'
	| 'unknown_consumer'
	| 'wrong_transport_direction'
	| 'cannot_consume'
	| 'own_producer'
	| 'view_too_large'
	| 'invalid_media_parameters'
	| 'conference_closed'
	| 'server_draining';

export class MediaError extends Error {
	readonly code: MediaErrorCode;

	constructor(code: MediaErrorCode, message: string) {
		super(message);
		this.name = 'MediaError';
		this.code = code;
	}
}
