// Raw-RTP load client for tests; the code lives in bench/rtp/ because the bench uses it too.
export * from '../../bench/rtp/plainRtpClient.ts';
export * from '../../bench/rtp/producerParameters.ts';
export * from '../../bench/rtp/rtpCapabilities.ts';
export * from '../../bench/rtp/speakerLayout.ts';
export * from '../../bench/rtp/streamSender.ts';
export * from '../../bench/rtp/streamStats.ts';
export * from '../../bench/rtp/videoLayerSender.ts';
export * from '../../bench/rtp/videoProfiles.ts';
