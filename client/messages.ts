// Sentences for people, per error code of the protocol (README "Error codes")
// and per reason a conference ends. Apps show these instead of raw codes.

const errorMessages: Record<string, string> = {
	bad_request: 'The app sent a request the server did not understand. Reload the page and try again.',
	payload_too_large: 'The app sent a request that was too large for the server.',
	payload_too_deep: 'The app sent a request the server refuses (too deeply nested).',
	join_in_progress: 'Joining is already under way; wait a moment.',
	token_lifetime_too_long: 'The access token is valid for longer than this server allows. Ask for a token with a shorter lifetime.',
	user_id_too_long: 'The user name inside the access token is too long for this server.',
	conference_full: 'This conference is full.',
	too_many_transports: 'Your app opened more media connections than the server allows. Leave and join again.',
	too_many_producers: 'You are sending more streams than the server allows.',
	too_many_consumers: 'You are receiving more streams than the server allows.',
	app_data_too_large: 'The app attached too much data to a stream.',
	plain_not_allowed: 'Your token does not allow raw RTP connections.',
	plain_destination_not_allowed: 'The server does not send raw RTP to that address.',
	unknown_method: 'This server does not support a feature the app needs; it may run an older version.',
	not_joined: 'You are not in the call any more. Join again.',
	already_joined: 'This connection is already in a call.',
	token_missing: 'An access token is needed to join. Paste one, or ask whoever runs this server for one.',
	token_invalid: 'The access token is not valid for this server. Check that you pasted all of it and that it was made for this server.',
	token_expired: 'The access token has expired. Get a new one and join again.',
	token_wrong_conference: 'The access token is for another conference. Check the conference name or get a token for this one.',
	conference_not_found:
		'There is no such conference (yet). Your token may only join a running call: ask someone with a start token to begin it, or check its name.',
	federation_unavailable:
		'Your server cannot reach the server of the domain that hosts this call, or that server does not accept your domain. Try again later or ask its operators to federate with yours.',
	federation_disabled: 'This server does not federate, so it cannot join a call hosted by another domain.',
	server_draining: 'This server is shutting down and takes no new calls. Try again in a minute.',
	unknown_transport: 'A media connection was lost. Leave and join again.',
	unknown_producer: 'That stream no longer exists.',
	unknown_consumer: 'That stream is no longer received.',
	wrong_transport_direction: 'The app used a media connection the wrong way. Reload the page.',
	cannot_consume: 'Your browser cannot receive one of the streams (no common codec).',
	own_producer: 'You cannot receive your own stream.',
	view_too_large: 'Too many videos were requested at once.',
	invalid_media_parameters: 'The server refused the media settings of your browser.',
	conference_closed: 'The call has ended.',
	internal_error: 'The server had a problem handling the request. Try again.',
	timeout: 'The server did not answer in time. Check your connection.',
	disconnected: 'The connection to the server was lost.',
	malformed_response: 'The server sent an answer the app does not understand.',
};

const endMessages: Record<string, string> = {
	empty: 'Everybody left, so the call ended.',
	worker_died: 'The call ended because of a failure on the server. Join again to start over.',
	shutdown: 'The server was shut down for maintenance, which ended the call.',
	anchor_ended: 'The call ended at the domain that hosted it.',
	closed: 'The call was closed.',
	left: 'You left the call.',
};

/** A sentence for an error code (or the code itself for one this version does not know). */
export function describeError(code: string): string {
	return errorMessages[code] ?? `The server refused the request (${code}).`;
}

/** A sentence for a `conferenceEnded` reason. */
export function describeEnd(reason: string): string {
	return endMessages[reason] ?? `The call ended (${reason}).`;
}

/** Every code with its own sentence (tests check the protocol's codes are all here). */
export const describedErrorCodes: readonly string[] = Object.keys(errorMessages);
export const describedEndReasons: readonly string[] = Object.keys(endMessages);
