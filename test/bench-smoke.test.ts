// The forwarding bench end to end with tiny numbers: it runs, its --json
// output parses, and packets were forwarded with low loss.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ForwardingResult } from '../bench/forwardingReport.ts';
import { runBench } from './support/runBench.ts';

const runFor = (args: string[]) => runBench('bench/forwarding.ts', args, 60_000);

test('bench 2x2 for 3 s: JSON parses, packets forwarded, low loss', async () => {
	const { code, stdout, stderr } = await runFor([
		'--senders',
		'2',
		'--receivers',
		'2',
		'--duration',
		'3',
		'--warmup',
		'1',
		'--video-rate',
		'100',
		'--json',
	]);
	assert.is(code, 0, `bench exited ${code}: ${stderr}`);
	const result = JSON.parse(stdout) as ForwardingResult;
	assert.match(stderr, /setup: 2 participants in 1 conference\(s\), 4 consumers/, 'progress goes to stderr with --json');
	assert.is(result.config.participants, 2);
	// Each participant receives the other's audio and video for the whole window.
	assert.is(result.measuredPairs, 4);
	assert.is(result.excludedPairs, 0);
	assert.ok(result.byKind.audio.expected > 2 * 50 * 2, `audio expected ${result.byKind.audio.expected}`);
	assert.ok(result.byKind.video.expected > 2 * 100 * 2, `video expected ${result.byKind.video.expected}`);
	assert.ok(result.received > 0 && result.forwardedPacketsPerSecond > 0, 'packets were forwarded');
	assert.ok(result.lossPercent < 5, `loss ${result.lossPercent} %`);
	assert.ok(result.delayMs.p50 !== null && result.delayMs.p50 < 100, `delay p50 ${result.delayMs.p50} ms`);
	assert.ok(result.worker.cpuPercent > 0 && result.worker.rssMB > 0, 'worker resource usage measured');
	assert.is(result.clientErrors, 0);
	assert.is(result.machine.mediasoup, '3.15.8');
});

test('bench refuses a bad option', async () => {
	const { code, stderr } = await runFor(['--senders', 'many']);
	assert.is.not(code, 0);
	assert.match(stderr, /senders/);
});

test.run();
