// RTP builders/parsers for tests; the code lives in bench/rtp/ because the bench uses it too.
export * from '../../bench/rtp/rtpPackets.ts';
