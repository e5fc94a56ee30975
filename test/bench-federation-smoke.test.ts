// The federation bench end to end with tiny numbers: it runs, its --json
// output parses, both directions of the link carry bytes, and in full mode
// the link carries about what was published on the other side.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { FederationResult } from '../bench/federationReport.ts';
import { runBench } from './support/runBench.ts';

const runFor = (args: string[]) => runBench('bench/federation.ts', args, 90_000);

test('federation bench 2 domains × 2 for 3 s: JSON parses, link bytes both ways ≈ published', async () => {
	const { code, stdout, stderr } = await runFor([
		'--participants',
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
	const result = JSON.parse(stdout) as FederationResult;
	assert.match(stderr, /setup: 2 domains × 2 participants, 24\/24 consumers/, 'progress goes to stderr with --json');
	assert.equal(result.config.domains, ['a.bench', 'b.bench']);
	assert.is(result.links.length, 2, 'one link, two directions');
	for (const link of result.links) {
		assert.ok(link.linkBytesPerSecond > 0, `${link.link}: link bytes ${link.linkBytesPerSecond}`);
		assert.ok(link.linkBytesPerSecondAtReceiver > 0, `${link.link}: bytes counted at the receiver too`);
		assert.is(link.publishedStreams, 4, `${link.link}: the other side's 2 × (audio + video) cross`);
		assert.ok(link.ratioToPublished > 0.5 && link.ratioToPublished < 2, `${link.link}: link / published ${link.ratioToPublished}`);
	}
	assert.ok(result.crossed.pairs > 0 && result.crossed.received > 0, 'streams crossed the federation hop');
	assert.ok(result.local.pairs > 0 && result.local.received > 0, 'local streams were forwarded');
	assert.ok(result.workers.length === 2 && result.workers.every((w) => w.rssMB > 0), 'both workers measured');
	assert.is(result.clientErrors, 0);
	// One receive-only WebRTC caller per domain gets the 4 load clients' audio + video over real ICE/DTLS/SRTP.
	assert.is(result.webrtcClients.length, 2);
	for (const w of result.webrtcClients) {
		assert.is(w.streams, 8, `${w.domain} WebRTC caller consumes every load stream`);
		assert.ok(w.packetsPerSecond > 100, `${w.domain} WebRTC caller receives ${w.packetsPerSecond} pkt/s`);
		assert.is(w.errors, 0);
	}
});

test.run();
