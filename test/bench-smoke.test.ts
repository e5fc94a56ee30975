// The forwarding bench end to end with tiny numbers: it runs, its --json
// output parses, and packets were forwarded with low loss; the simulcast
// profiles reach viewers on the layer their tiles need; capacity mode runs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { CapacityResult } from '../bench/forwardingCapacity.ts';
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

test('profiles single, wire, chrome in one run (3 participants, speaker view): each viewer gets the top layer on the stage and the lowest as thumbnail', async () => {
	const { code, stdout, stderr } = await runFor(['-s', '3', '-r', '3', '-d', '2', '-w', '1', '--profile', 'single,wire,chrome', '--json']);
	assert.is(code, 0, `bench exited ${code}: ${stderr}`);
	const results = JSON.parse(stdout) as ForwardingResult[];
	assert.equal(
		results.map((r) => r.config.profile.name),
		['single', 'wire', 'chrome'],
	);
	// Each of 3 viewers shows the loudest other speaker large and the third participant as a thumbnail.
	const expectedLayers: Record<string, Record<string, number>> = { single: { 0: 6 }, wire: { 0: 3, 1: 3 }, chrome: { 0: 3, 2: 3 } };
	for (const r of results) {
		const name = r.config.profile.name;
		const expected = expectedLayers[name] ?? {};
		// A speaker change during the window (a stalled shared machine can reorder the ranking) leaves pairs out, never adds any.
		for (const [layer, pairs] of Object.entries(r.videoPairsByLayer)) {
			assert.ok(pairs <= (expected[layer] ?? 0), `${name}: ${pairs} video pairs on layer ${layer}, expected ${JSON.stringify(expected)}`);
		}
		for (const layer of Object.keys(expected)) assert.ok((r.videoPairsByLayer[layer] ?? 0) > 0, `${name}: some viewer on layer ${layer}`);
		assert.is(r.layerSwitchesNotOnKeyFrame, 0, `${name}: every layer switch starts on a key frame`);
		assert.ok(r.lossPercent < 5, `${name}: loss ${r.lossPercent} %`);
		assert.ok(r.byKind.video.expected > 0 && r.byKind.audio.expected > 0, `${name}: audio and video measured`);
		assert.is(r.clientErrors, 0);
	}
	const [single, wire, chrome] = results as [ForwardingResult, ForwardingResult, ForwardingResult];
	// Published: single 2.7, wire 1.55, chrome 3.45 Mbit/s per participant (with audio and headers).
	assert.ok(wire.publishedMbitPerSecond < single.publishedMbitPerSecond, 'wire publishes less than single');
	assert.ok(chrome.publishedMbitPerSecond > wire.publishedMbitPerSecond, 'chrome publishes three layers');
	assert.ok(wire.forwardedMbitPerSecond < 0.6 * single.forwardedMbitPerSecond, 'thumbnails of the low layer cut what is forwarded');
	assert.match(stderr, /=== profile wire ===/);
});

test('capacity mode with conferences of 3 (wire): steps in whole conferences, a result per worker core', async () => {
	const args = [
		'--capacity',
		'--profile',
		'wire',
		'--conference-size',
		'3',
		'--max-participants',
		'6',
		'--retries',
		'0',
		'-d',
		'1',
		'-w',
		'1',
		'--json',
	];
	const { code, stdout, stderr } = await runFor(args);
	assert.is(code, 0, `bench exited ${code}: ${stderr}`);
	const result = JSON.parse(stdout) as CapacityResult;
	assert.equal(
		result.steps.map((s) => [s.participants, s.conferences]),
		[
			[3, 1],
			[6, 2],
		],
	);
	assert.is(result.conferenceSize, 3);
	assert.ok(result.participantsPerCore === 6 || result.steps.some((s) => s.limit !== 'none'), 'a lossy step says what ran out');
	assert.ok(
		result.steps.every((s) => s.workerCpuPercent > 0),
		'worker CPU measured',
	);
});

test('bench refuses a bad option', async () => {
	const { code, stderr } = await runFor(['--senders', 'many']);
	assert.is.not(code, 0);
	assert.match(stderr, /senders/);
	const unknown = await runFor(['--profile', 'single,zoom']);
	assert.is.not(unknown.code, 0);
	assert.match(unknown.stderr, /profiles are single, wire, chrome/);
});

test.run();
