import type { types as ms } from 'mediasoup';

/**
 * What a raw-RTP client says it supports decides whether mediasoup runs a
 * bandwidth estimator for its transport. With transport-cc or REMB (plus
 * abs-send-time) negotiated, mediasoup estimates the downlink and hands layers
 * out by consumer priority; a client that then sends no feedback would be
 * held at the initial estimate. So a load client announces neither (its
 * consumers simply follow their preferred layers), and a client that wants
 * the estimator announces REMB alone and sends REMB itself.
 */
export type BandwidthFeedback = 'none' | 'remb';

const TRANSPORT_CC = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
const ABS_SEND_TIME = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';

export function withBandwidthFeedback(capabilities: ms.RtpCapabilities, feedback: BandwidthFeedback): ms.RtpCapabilities {
	const dropFeedback = new Set(feedback === 'remb' ? ['transport-cc'] : ['transport-cc', 'goog-remb']);
	const dropExtensions = new Set(feedback === 'remb' ? [TRANSPORT_CC] : [TRANSPORT_CC, ABS_SEND_TIME]);
	return {
		...capabilities,
		codecs: capabilities.codecs?.map((codec) => ({
			...codec,
			rtcpFeedback: codec.rtcpFeedback?.filter((fb) => !dropFeedback.has(fb.type)),
		})),
		headerExtensions: capabilities.headerExtensions?.filter((ext) => !dropExtensions.has(ext.uri)),
	};
}
