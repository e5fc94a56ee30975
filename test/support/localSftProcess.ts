// One SFT as a real child process on this host (node --import tsx
// signalling/main.ts, as the systemd unit starts it), in its own process
// group so tests can signal the whole group (Ctrl-C, systemd) or SIGKILL it.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const REPO_ROOT = new URL('../..', import.meta.url).pathname;

export interface LocalSftOptions {
	/** The whole configuration (written to a JSON file; SFT_* variables of the caller are not passed on). */
	config: Record<string, unknown>;
	dir: string;
	name: string;
	readyTimeoutMs?: number;
}

export class LocalSftProcess {
	readonly name: string;
	readonly child: ChildProcess;
	/** Pids of the mediasoup workers it started, in order. */
	readonly workerPids: number[] = [];
	readonly logLines: string[] = [];
	readonly exited: Promise<number | null>;
	#ready: { clientPort: number; federationPort?: number } | undefined;

	private constructor(name: string, child: ChildProcess) {
		this.name = name;
		this.child = child;
		this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
		for (const stream of [child.stdout, child.stderr]) {
			if (!stream) continue;
			createInterface({ input: stream }).on('line', (line) => {
				this.logLines.push(line);
				const entry = parseJson(line);
				// The worker's pid is the last "pid" key of its start line.
				if (entry?.['msg'] === 'mediasoup worker started') this.workerPids.push(Number(entry['pid']));
				if (entry?.['msg'] === 'SFT ready')
					this.#ready = { clientPort: Number(entry['clientPort']), federationPort: entry['federationPort'] as number | undefined };
			});
		}
	}

	static async start(options: LocalSftOptions): Promise<LocalSftProcess> {
		const configFile = join(options.dir, `${options.name}.json`);
		writeFileSync(configFile, JSON.stringify(options.config, null, 2));
		const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SFT_') || key === 'SFT_CACHE_DIR'));
		const child = spawn(process.execPath, ['--import', 'tsx', 'signalling/main.ts', '--config', configFile], {
			cwd: REPO_ROOT,
			env,
			detached: true,
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		const sft = new LocalSftProcess(options.name, child);
		const deadline = Date.now() + (options.readyTimeoutMs ?? 30_000);
		while (!sft.#ready) {
			if (child.exitCode !== null || Date.now() > deadline) {
				sft.kill();
				throw new Error(`${options.name} SFT did not get ready:\n${sft.logLines.slice(-20).join('\n')}`);
			}
			await new Promise((r) => setTimeout(r, 50));
		}
		return sft;
	}

	get pid(): number {
		if (this.child.pid === undefined) throw new Error(`${this.name} has no pid`);
		return this.child.pid;
	}

	get clientUrl(): string {
		return `https://127.0.0.1:${this.#ready?.clientPort}`;
	}

	get running(): boolean {
		return this.child.exitCode === null && this.child.signalCode === null;
	}

	/** Sends `signal` to the whole process group (the SFT and its workers). */
	signalGroup(signal: NodeJS.Signals): void {
		try {
			process.kill(-this.pid, signal);
		} catch {
			// Already gone.
		}
	}

	/** SIGKILL to the group: the SFT dies at once, as in a crash. */
	kill(): void {
		if (this.running) this.signalGroup('SIGKILL');
	}
}

function parseJson(line: string): Record<string, unknown> | undefined {
	try {
		return JSON.parse(line) as Record<string, unknown>;
	} catch {
		return undefined;
	}
}
