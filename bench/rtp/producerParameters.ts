import type { types as ms } from 'mediasoup';
import type { VideoLayer } from './videoProfiles.ts';

/** Payload types and extension id the synthetic senders use (any free values work; these are what we declare). */
export const OPUS_PAYLOAD_TYPE = 100;
export const VP8_PAYLOAD_TYPE = 101;
export const AUDIO_LEVEL_EXTENSION_ID = 1;

/**
 * What a plain-RTP producer declares to mediasoup: the codec with the payload
 * type we put in packets, our SSRC, and (audio) the ssrc-audio-level
 * extension id the AudioLevelObserver reads.
 */
export function opusProducerParameters(ssrc: number, cname: string): ms.RtpParameters {
	return {
		codecs: [{ mimeType: 'audio/opus', payloadType: OPUS_PAYLOAD_TYPE, clockRate: 48000, channels: 2 }],
		headerExtensions: [{ uri: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level', id: AUDIO_LEVEL_EXTENSION_ID }],
		encodings: [{ ssrc }],
		rtcp: { cname, reducedSize: true },
	};
}

/**
 * VP8 with PLI and FIR feedback, so mediasoup asks us for key frames when a
 * consumer (re)starts or switches layers. One encoding per simulcast layer
 * (lowest first), told apart by SSRC, with the scale and scalability mode a
 * browser would declare; a single L1T1 layer declares just its SSRC.
 */
export function vp8ProducerParameters(ssrcs: readonly number[], cname: string, layers: readonly VideoLayer[]): ms.RtpParameters {
	const top = layers[layers.length - 1];
	const plain = layers.length === 1 && top?.temporalLayers === 1;
	const encodings = ssrcs.map((ssrc, i) => {
		const layer = layers[i];
		if (plain || !layer || !top) return { ssrc };
		return {
			ssrc,
			scalabilityMode: `L1T${layer.temporalLayers}`,
			scaleResolutionDownBy: top.width / layer.width,
			maxBitrate: layer.bitrate,
		};
	});
	return {
		codecs: [
			{
				mimeType: 'video/VP8',
				payloadType: VP8_PAYLOAD_TYPE,
				clockRate: 90000,
				rtcpFeedback: [
					{ type: 'nack', parameter: 'pli' },
					{ type: 'ccm', parameter: 'fir' },
				],
			},
		],
		encodings,
		rtcp: { cname, reducedSize: true },
	};
}
