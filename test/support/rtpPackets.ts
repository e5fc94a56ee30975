// RTP/RTCP/VP8 builders and parsers for tests; the code lives in bench/rtp/ because the bench uses it too.
export * from '../../bench/rtp/rtcpPackets.ts';
export * from '../../bench/rtp/rtpPackets.ts';
export * from '../../bench/rtp/vp8Packets.ts';
