import { randomInt } from 'node:crypto';
import pino from 'pino';
import type { MediaLimits } from '../../sft/Participant.ts';
import { Sft, type SftOptions } from '../../sft/Sft.ts';

/**
 * An in-process Sft with one worker on 127.0.0.1 for raw-RTP tests. The
 * worker's WebRtcServer needs one fixed port; another test run may hold the
 * random pick, so a few are tried.
 */
export async function startTestSft(
	limits: MediaLimits = { maxVideos: 9, maxAudible: 5 },
	extra: Pick<SftOptions, 'allocator'> = {},
): Promise<Sft> {
	for (let attempt = 1; ; attempt++) {
		try {
			return await Sft.create(
				{
					workers: 1,
					listenIp: '127.0.0.1',
					rtcBasePort: 47000 + randomInt(0, 500),
					rtcMinPort: 48000,
					rtcMaxPort: 48999,
					logLevel: 'warn',
					limits,
					initialOutgoingBitrate: 1_000_000,
					// 300 ms holds 15 packets at 50 pkt/s; mediasoup ignores producers with fewer than 10.
					audioLevelIntervalMs: 300,
					audioLevelThreshold: -100,
					...extra,
				},
				pino({ level: process.env['SFT_TEST_LOG'] ?? 'silent' }),
			);
		} catch (error) {
			if (attempt >= 5) throw error;
		}
	}
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(predicate: () => boolean, what: string, timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!predicate()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await sleep(20);
	}
}

/** uvu sets the exit code when done; a handle leaked by a failed test must not keep the process alive. */
export function exitSoon(): void {
	setTimeout(() => process.exit(), 3000).unref();
}
