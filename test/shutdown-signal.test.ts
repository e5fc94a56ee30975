import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { PlainSignallingPeer } from './support/plainSignallingPeer.ts';

// A real SFT process (as systemd starts it: node --import tsx) in its own
// process group; SIGINT or SIGTERM goes to the whole group, as Ctrl-C and
// systemd's KillMode=control-group send it. The mediasoup workers must not
// die first: media keeps flowing while the SFT drains, then every client
// gets conferenceEnded { reason: 'shutdown' } and the process exits 0.
const test = suite('process-group signal drains');
const REPO_ROOT = new URL('..', import.meta.url).pathname;
const DRAIN_SECONDS = 2;
const CLIENTS = 6;

interface Started {
	child: ChildProcess;
	clientPort: number;
	workerPids: number[];
	exited: Promise<number | null>;
}

async function startSft(basePort: number): Promise<Started> {
	const child = spawn(process.execPath, ['--import', 'tsx', 'signalling/main.ts'], {
		cwd: REPO_ROOT,
		detached: true,
		stdio: ['ignore', 'pipe', 'pipe'],
		env: {
			...process.env,
			SFT_SIGNALLING_LISTEN_IP: '127.0.0.1',
			SFT_SIGNALLING_LISTEN_PORT: '0',
			SFT_SIGNALLING_REQUIRE_TOKEN: 'false',
			SFT_SIGNALLING_TOKEN_SECRET: 'shutdown-test-secret-0123456789abcdef',
			SFT_SIGNALLING_PLAIN_TRANSPORTS: 'any',
			SFT_METRICS_LISTEN_IP: '127.0.0.1',
			SFT_METRICS_LISTEN_PORT: '0',
			SFT_MEDIA_WORKERS: '1',
			SFT_MEDIA_LISTEN_IP: '127.0.0.1',
			SFT_MEDIA_RTC_BASE_PORT: String(basePort),
			SFT_MEDIA_RTC_MIN_PORT: String(basePort + 1),
			SFT_MEDIA_RTC_MAX_PORT: String(basePort + 40),
			SFT_MEDIA_PIPE_MIN_PORT: String(basePort + 41),
			SFT_MEDIA_PIPE_MAX_PORT: String(basePort + 50),
			SFT_SHUTDOWN_DRAIN_SECONDS: String(DRAIN_SECONDS),
		},
	});
	const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
	const workerPids: number[] = [];
	const lines = createInterface({ input: child.stdout! });
	createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(`[sft] ${line}\n`));
	const clientPort = await new Promise<number>((resolve, reject) => {
		const timer = setTimeout(() => reject(new Error('the SFT did not get ready in 30 s')), 30_000);
		lines.on('line', (line) => {
			const entry = parseJson(line);
			// The worker's pid is the last "pid" key of its start line.
			if (entry?.['msg'] === 'mediasoup worker started') workerPids.push(Number(entry['pid']));
			if (entry?.['msg'] === 'SFT ready') {
				clearTimeout(timer);
				resolve(Number(entry['clientPort']));
			}
		});
		child.once('exit', (code) => reject(new Error(`the SFT exited (${code}) before it was ready`)));
	});
	return { child, clientPort, workerPids, exited };
}

function parseJson(line: string): Record<string, unknown> | undefined {
	try {
		return JSON.parse(line) as Record<string, unknown>;
	} catch {
		return undefined;
	}
}

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch {
		return false;
	}
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!check()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

for (const [i, signal] of (['SIGINT', 'SIGTERM'] as const).entries()) {
	test(`${signal} to the process group drains: media flows on, every client is told 'shutdown', exit 0`, async () => {
		const sft = await startSft(44_000 + i * 100 + Math.floor(Math.random() * 20) * 200);
		const peers: PlainSignallingPeer[] = [];
		try {
			assert.is(sft.workerPids.length, 1);
			const producers: string[] = [];
			for (let n = 0; n < CLIENTS; n++) {
				const peer = await PlainSignallingPeer.connect(`https://127.0.0.1:${sft.clientPort}`);
				peers.push(peer);
				await peer.join({ token: '', conferenceId: 'drain' });
				producers.push(await peer.sendAudio(5000 + n, 20 + n));
			}
			for (const [n, peer] of peers.entries()) for (const [m, id] of producers.entries()) if (m !== n) await peer.consume(id);
			await until(() => peers[0]!.receivedFrom(producers[1]!) > 10, 5000, 'media to flow');

			process.kill(-sft.child.pid!, signal);
			await new Promise((r) => setTimeout(r, 300));
			const before = peers[0]!.receivedFrom(producers[1]!);
			await new Promise((r) => setTimeout(r, (DRAIN_SECONDS * 1000) / 2));
			assert.ok(alive(sft.workerPids[0]!), 'the mediasoup worker survives the signal while the SFT drains');
			assert.ok(peers[0]!.receivedFrom(producers[1]!) > before + 20, 'media keeps flowing during the drain');
			assert.ok(
				peers.every((p) => p.signalling.received('conferenceEnded').length === 0),
				'nobody is told the end early',
			);

			const code = await sft.exited;
			assert.is(code, 0, 'the SFT exits 0 after draining');
			const reasons = peers.map((p) => p.signalling.received('conferenceEnded').map((e) => e.reason));
			assert.equal(
				reasons,
				peers.map(() => ['shutdown']),
				'every client got conferenceEnded { reason: shutdown } once',
			);
			await until(() => !alive(sft.workerPids[0]!), 3000, 'the worker to be gone after the SFT stopped');
		} finally {
			for (const peer of peers) peer.close();
			if (sft.child.exitCode === null) process.kill(-sft.child.pid!, 'SIGKILL');
		}
	});
}

test.run();
