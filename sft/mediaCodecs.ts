import type { types as ms } from 'mediasoup';

/**
 * Codecs every conference router offers. All routers use the same list, so
 * their RTP capabilities are identical and can be handed to a client before
 * it knows which worker its conference lives on.
 */
export const mediaCodecs: ms.RtpCodecCapability[] = [
	{ kind: 'audio', mimeType: 'audio/opus', clockRate: 48000, channels: 2 },
	{
		kind: 'video',
		mimeType: 'video/VP8',
		clockRate: 90000,
		parameters: { 'x-google-start-bitrate': 1000 },
	},
	{
		// SVC (L3T3_KEY): one stream carrying three spatial layers.
		kind: 'video',
		mimeType: 'video/VP9',
		clockRate: 90000,
		parameters: { 'profile-id': 0, 'x-google-start-bitrate': 1000 },
	},
	{
		kind: 'video',
		mimeType: 'video/H264',
		clockRate: 90000,
		parameters: {
			'packetization-mode': 1,
			'profile-level-id': '42e01f',
			'level-asymmetry-allowed': 1,
		},
	},
];
