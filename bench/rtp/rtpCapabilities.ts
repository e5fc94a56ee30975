import type { types as ms } from 'mediasoup';

/**
 * What a raw-RTP client says it supports decides whether mediasoup runs a
 * bandwidth estimator for its transport. With transport-cc (or REMB plus
 * abs-send-time) negotiated, mediasoup estimates the downlink and hands layers
 * out by consumer priority; a client that then sends no feedback is held at
 * the initial estimate (600 kbit/s for a plain transport). So a load client
 * announces neither (its consumers simply follow their preferred layers), and
 * a client that wants the estimator announces transport-cc alone and sends
 * transport feedback (transportFeedback.ts). REMB is no use: mediasoup
 * 3.15's estimator runs libwebrtc's GoogCC in feedback-only mode, which drops
 * REMB reports ("Received REMB for packet feedback only GoogCC").
 */
export type BandwidthFeedback = 'none' | 'transport-cc';

const TRANSPORT_CC = 'http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01';
const ABS_SEND_TIME = 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time';

export function withBandwidthFeedback(capabilities: ms.RtpCapabilities, feedback: BandwidthFeedback): ms.RtpCapabilities {
	const dropFeedback = new Set(feedback === 'transport-cc' ? ['goog-remb'] : ['transport-cc', 'goog-remb']);
	const dropExtensions = new Set(feedback === 'transport-cc' ? [ABS_SEND_TIME] : [TRANSPORT_CC, ABS_SEND_TIME]);
	return {
		...capabilities,
		codecs: capabilities.codecs?.map((codec) => ({
			...codec,
			rtcpFeedback: codec.rtcpFeedback?.filter((fb) => !dropFeedback.has(fb.type)),
		})),
		headerExtensions: capabilities.headerExtensions?.filter((ext) => !dropExtensions.has(ext.uri)),
	};
}
