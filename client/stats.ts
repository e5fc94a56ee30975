/** Counters of one received stream at one moment (from RTCPeerConnection stats). */
export interface ReceiveSample {
	/** Milliseconds, from the stats report. */
	at: number;
	bytesReceived: number;
	packetsReceived: number;
	packetsLost: number;
	/** Video only. */
	framesDecoded: number;
	frameWidth: number;
	frameHeight: number;
	framesPerSecond: number;
	/** Audio only: 0 (silence) to 1. */
	audioLevel: number;
}

/** A sample with the rates since the one before. */
export interface ReceiveStats extends ReceiveSample {
	bitrate: number;
	/** Packets lost out of those expected since the previous sample. */
	lossRatio: number;
}

/** The inbound RTP stream in a receiver's stats report (mediasoup's probation stream left out). */
export function readInbound(report: RTCStatsReport): ReceiveSample | undefined {
	let sample: ReceiveSample | undefined;
	report.forEach((entry: Record<string, unknown>) => {
		if (entry['type'] !== 'inbound-rtp' || entry['mid'] === 'probator') return;
		const n = (key: string) => Number(entry[key] ?? 0) || 0;
		sample = {
			at: n('timestamp'),
			bytesReceived: n('bytesReceived'),
			packetsReceived: n('packetsReceived'),
			packetsLost: Math.max(0, n('packetsLost')),
			framesDecoded: n('framesDecoded'),
			frameWidth: n('frameWidth'),
			frameHeight: n('frameHeight'),
			framesPerSecond: n('framesPerSecond'),
			audioLevel: n('audioLevel'),
		};
	});
	return sample;
}

export function withRates(previous: ReceiveSample | undefined, current: ReceiveSample): ReceiveStats {
	if (!previous || current.at <= previous.at) return { ...current, bitrate: 0, lossRatio: 0 };
	const seconds = (current.at - previous.at) / 1000;
	const received = Math.max(0, current.packetsReceived - previous.packetsReceived);
	const lost = Math.max(0, current.packetsLost - previous.packetsLost);
	return {
		...current,
		bitrate: Math.max(0, (current.bytesReceived - previous.bytesReceived) * 8) / seconds,
		lossRatio: received + lost > 0 ? lost / (received + lost) : 0,
	};
}
