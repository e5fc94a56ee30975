import { type Command, InvalidArgumentError } from 'commander';

/** commander argument parsers shared by the benches. */
export const int =
	(min: number) =>
	(value: string): number => {
		const n = Number(value);
		if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}`);
		return n;
	};

export const seconds = (value: string): number => {
	const n = Number(value);
	if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds');
	return n;
};

/** Media each load client sends and what receivers select: the same knobs in every bench. */
export interface MediaLoadOptions {
	duration: number;
	warmup: number;
	audioRate: number;
	audioBytes: number;
	videoRate: number;
	videoBytes: number;
	fps: number;
	maxAudible: number;
	maxVideos: number;
}

export function addMediaLoadOptions(command: Command, defaultDurationSeconds: number): Command {
	return command
		.option('-d, --duration <s>', 'measured window, seconds', seconds, defaultDurationSeconds)
		.option('-w, --warmup <s>', 'seconds before the window (speaker ranking, key frames)', seconds, 3)
		.option('--audio-rate <pps>', 'Opus packets/s per sending participant (0 = no audio)', int(0), 50)
		.option('--audio-bytes <n>', 'Opus payload bytes', int(24), 100)
		.option('--video-rate <pps>', 'VP8 packets/s per sending participant (0 = no video)', int(0), 300)
		.option('--video-bytes <n>', 'VP8 payload bytes', int(40), 1100)
		.option('--fps <n>', 'VP8 frames/s (packets per frame = rate / fps)', int(1), 30)
		.option('--max-audible <n>', 'loudest speakers each receiver hears', int(1), 5)
		.option('--max-videos <n>', 'videos each receiver views (max 9)', int(1), 9);
}

/** The media-load settings as reported in a bench result. */
export interface MediaLoadConfig {
	durationSeconds: number;
	warmupSeconds: number;
	audioPacketsPerSecond: number;
	audioPayloadBytes: number;
	videoPacketsPerSecond: number;
	videoPayloadBytes: number;
	maxAudible: number;
	maxVideos: number;
}

export function mediaLoadConfig(options: MediaLoadOptions): MediaLoadConfig {
	return {
		durationSeconds: options.duration,
		warmupSeconds: options.warmup,
		audioPacketsPerSecond: options.audioRate,
		audioPayloadBytes: options.audioBytes,
		videoPacketsPerSecond: options.videoRate,
		videoPayloadBytes: options.videoBytes,
		maxAudible: options.maxAudible,
		maxVideos: options.maxVideos,
	};
}
