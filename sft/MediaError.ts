/** Stable codes for refusals from the media plane; signalling passes them on to clients. */
export const MEDIA_ERROR_CODES = [
	'unknown_transport',
	'unknown_producer',
	'unknown_consumer',
	'wrong_transport_direction',
	'cannot_consume',
	'own_producer',
	'view_too_large',
	'invalid_media_parameters',
	'conference_closed',
	'server_draining',
] as const;

export type MediaErrorCode = (typeof MEDIA_ERROR_CODES)[number];

export class MediaError extends Error {
	readonly code: MediaErrorCode;

	constructor(code: MediaErrorCode, message: string) {
		super(message);
		this.name = 'MediaError';
		this.code = code;
	}
}
