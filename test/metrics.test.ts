// The Prometheus endpoint: live gauges follow conferences and participants,
// and the exposition passes `promtool check metrics`.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SignallingClient } from './support/signallingClient.ts';
import { TestServer, watchdog } from './support/testServer.ts';

const testServer = new TestServer('metrics-test-secret-0123');
const PROMTOOL = '/usr/bin/promtool';
watchdog('metrics.test.ts', 60);

const clients = new Set<SignallingClient>();

const ready = () => testServer.ready();

async function scrape(): Promise<string> {
	const response = await fetch(`http://127.0.0.1:${ready().metricsServer.port}/metrics`);
	assert.is(response.status, 200);
	assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
	return response.text();
}

/** The value of an unlabelled sample, or undefined if absent. */
function sample(text: string, name: string, labels = ''): number | undefined {
	const escaped = `${name}${labels}`.replace(/[{}"\\.]/g, (c) => `\\${c}`);
	const match = new RegExp(`^${escaped} (\\S+)$`, 'm').exec(text);
	return match ? Number(match[1]) : undefined;
}

function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
	return new Promise((resolve, reject) => {
		const child = spawn(PROMTOOL, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
		let output = '';
		child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
		child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
		const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
		child.on('error', reject);
		child.on('close', (code) => {
			clearTimeout(timer);
			resolve({ code, output });
		});
		child.stdin.end(text);
	});
}

async function join(user: string, conferenceId: string): Promise<SignallingClient> {
	const s = ready();
	const client = await SignallingClient.connect({ url: `https://127.0.0.1:${s.clients.port}`, ca: s.selfSignedCert });
	clients.add(client);
	const { rtpCapabilities } = await client.request('getCapabilities', {});
	const token = testServer.token(user, conferenceId);
	await client.request('join', { conferenceId, token, rtpCapabilities: rtpCapabilities as unknown as Record<string, unknown> });
	return client;
}

test.before(async () => {
	await testServer.start({ statsIntervalMs: 200 });
});

test.after(async () => {
	for (const client of clients) client.close();
	await testServer.close().catch(() => undefined);
	setTimeout(() => process.exit(), 2000).unref();
});

test('gauges follow conferences and participants', async () => {
	const idle = await scrape();
	assert.is(sample(idle, 'sft_conferences'), 0);
	assert.is(sample(idle, 'sft_participants'), 0);

	const alice = await join('alice', 'metrics-room');
	await alice.request('createTransport', { direction: 'send' });
	let text = await scrape();
	assert.is(sample(text, 'sft_conferences'), 1);
	assert.is(sample(text, 'sft_participants'), 1);

	const bob = await join('bob', 'metrics-room');
	const carol = await join('carol', 'metrics-other-room');
	text = await scrape();
	assert.is(sample(text, 'sft_conferences'), 2);
	assert.is(sample(text, 'sft_participants'), 3);
	assert.is(sample(text, 'sft_producers', '{kind="audio"}'), 0);
	assert.is(sample(text, 'sft_worker_deaths_total'), 0);
	assert.ok((sample(text, 'sft_worker_resident_memory_bytes', '{worker="0"}') ?? 0) > 1_000_000, 'worker RSS is reported');

	carol.close();
	bob.close();
	const deadline = Date.now() + 5000;
	while (ready().sft.conferences.length > 1 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
	text = await scrape();
	assert.is(sample(text, 'sft_conferences'), 1);
	assert.is(sample(text, 'sft_participants'), 1);
	alice.close();
});

test('the exposition passes promtool check metrics', async () => {
	assert.ok(existsSync(PROMTOOL), `${PROMTOOL} is installed (Debian package prometheus)`);
	await join('dave', 'metrics-lint-room');
	const text = await scrape();
	assert.is(sample(text, 'sft_conferences'), 1);
	assert.ok(text.includes('# TYPE sft_participants gauge'));
	const result = await promtoolCheck(text);
	assert.is(result.output.trim(), '', 'promtool reports no problems');
	assert.is(result.code, 0, `promtool exit code; output: ${result.output}`);
	// The checker itself does fail on a bad exposition (so the pass above means something).
	const bad = await promtoolCheck('# TYPE sft_bad_total gauge\nsft_bad_total 1\n');
	assert.is.not(bad.code, 0, 'promtool refuses a gauge named *_total');
});

test.run();
