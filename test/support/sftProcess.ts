// One domain's SFT as a real child process (signalling/main.ts) inside a test
// host's network namespace: every listener (signalling, metrics, federation,
// media) on the host's address, a generated config file, certificates from
// the domain's own CA, and the "SFT ready" log line awaited.
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type IssuedCredentials, issueSftCertificate } from '../../certs/index.ts';
import { type AccessRight, mintAccessToken } from '../../signalling/client/accessToken.ts';
import { killGroup, type NetnsHost, type NetnsHosts } from './netnsHosts.ts';
import { runToEnd } from './trust-harness.ts';

const REPO_ROOT = new URL('../..', import.meta.url).pathname;

export interface SftProcessOptions {
	hosts: NetnsHosts;
	host: NetnsHost;
	/** Federation domain, e.g. a.test. */
	domain: string;
	/** This domain's CA: issues the federation certificate and the client-listener certificate. */
	ca: IssuedCredentials;
	/** PEM of every CA the SFT trusts for federation (the allow list decides who is admitted). */
	trustBundlePem: string;
	allowList: string[];
	/** Static partner endpoints (`federation.peers`): partners are dialled only through these (or DNS SRV). */
	peers?: Record<string, { host: string; port: number }>;
	tokenSecret: string;
	/** Directory for the config file, certificates and the log. */
	dir: string;
	logLevel?: string;
	readyTimeoutMs?: number;
}

interface ReadyLine {
	clientPort: number;
	metricsPort: number;
	rtcPorts: number[];
	federationPort?: number;
}

export class SftProcess {
	readonly domain: string;
	readonly host: NetnsHost;
	readonly configFile: string;
	readonly logFile: string;
	/** PEM clients trust for the signalling listener (the domain's CA). */
	readonly clientCaPem: string;
	readonly #child: ChildProcess;
	readonly #tokenSecret: string;
	/** stdout and stderr lines, in arrival order. */
	readonly logLines: string[] = [];
	/** Resolves when the process has exited. */
	readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
	exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
	#ready: ReadyLine | undefined;

	private constructor(options: SftProcessOptions, child: ChildProcess, configFile: string) {
		this.domain = options.domain;
		this.host = options.host;
		this.configFile = configFile;
		this.logFile = join(options.dir, `${options.domain}.log`);
		this.clientCaPem = options.ca.certificatePem;
		this.#tokenSecret = options.tokenSecret;
		this.#child = child;
		this.exited = new Promise((resolve) => {
			child.once('exit', (code, signal) => {
				this.exitStatus = { code, signal };
				resolve(this.exitStatus);
			});
		});
		for (const stream of [child.stdout, child.stderr]) {
			if (!stream) continue;
			createInterface({ input: stream }).on('line', (line) => {
				this.logLines.push(line);
				if (this.logLines.length > 20_000) this.logLines.splice(0, 5_000);
			});
		}
	}

	/** Writes certificates and config, starts the process in the namespace, waits for "SFT ready". */
	static async start(options: SftProcessOptions): Promise<SftProcess> {
		const { domain, host, ca, dir } = options;
		const file = (name: string) => join(dir, `${domain}.${name}`);
		const federation = await issueSftCertificate({
			caCertificatePem: ca.certificatePem,
			caPrivateKeyPem: ca.privateKeyPem,
			domain,
			hosts: [host.address],
			days: 2,
		});
		const listener = await issueSftCertificate({
			caCertificatePem: ca.certificatePem,
			caPrivateKeyPem: ca.privateKeyPem,
			domain,
			hosts: [host.address],
			days: 2,
		});
		writeFileSync(file('federation.pem'), federation.certificatePem);
		writeFileSync(file('federation.key'), federation.privateKeyPem, { mode: 0o600 });
		writeFileSync(file('signalling.pem'), `${listener.certificatePem}${ca.certificatePem}`);
		writeFileSync(file('signalling.key'), listener.privateKeyPem, { mode: 0o600 });
		writeFileSync(file('trust.pem'), options.trustBundlePem);
		// Each namespace has its own port space, so the default ports are free.
		const config = {
			signalling: {
				listen: { ip: host.address, port: 8443 },
				certFile: file('signalling.pem'),
				keyFile: file('signalling.key'),
				tokenSecret: options.tokenSecret,
			},
			media: { workers: 1, listenIp: host.address, rtcBasePort: 40000, rtcMinPort: 40100, rtcMaxPort: 40999, workerLogLevel: 'warn' },
			metrics: { listen: { ip: host.address, port: 9090 }, statsIntervalMs: 1000 },
			shutdown: { drainSeconds: 0 },
			log: { level: options.logLevel ?? 'info' },
			federation: {
				enabled: true,
				domain,
				listen: { ip: host.address, port: 9443 },
				announcedHost: host.address,
				certFile: file('federation.pem'),
				keyFile: file('federation.key'),
				trustBundleFile: file('trust.pem'),
				allowList: options.allowList,
				peers: options.peers ?? {},
			},
		};
		const configFile = file('config.json');
		writeFileSync(configFile, JSON.stringify(config, null, 2));
		// No SFT_* overrides from the caller's environment: the file is the whole configuration.
		const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SFT_') || key === 'SFT_CACHE_DIR'));
		// `node --import tsx` rather than `npx tsx`: one process (tsx's CLI would
		// put a second node between us and the SFT), so its pid is the SFT's.
		const child = options.hosts.spawn(host, process.execPath, ['--import', 'tsx', 'signalling/main.ts', '--config', configFile], {
			cwd: REPO_ROOT,
			env,
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		const sft = new SftProcess(options, child, configFile);
		try {
			sft.#ready = await sft.#waitForReady(options.readyTimeoutMs ?? 30_000);
		} catch (error) {
			await sft.stop();
			sft.saveLog();
			throw new Error(`${(error as Error).message}\n--- ${domain} SFT log (${sft.logFile}) ---\n${sft.logTail(40)}`);
		}
		return sft;
	}

	get pid(): number {
		const pid = this.#child.pid;
		if (pid === undefined) throw new Error(`${this.domain} SFT has no pid`);
		return pid;
	}

	get running(): boolean {
		return this.exitStatus === undefined;
	}

	get address(): string {
		return this.host.address;
	}

	get clientPort(): number {
		return this.#readyLine().clientPort;
	}

	get metricsPort(): number {
		return this.#readyLine().metricsPort;
	}

	get federationPort(): number {
		const port = this.#readyLine().federationPort;
		if (port === undefined) throw new Error(`${this.domain} SFT reported no federation port`);
		return port;
	}

	get rtcPorts(): number[] {
		return this.#readyLine().rtcPorts;
	}

	/** https://ADDRESS:PORT of the client signalling listener. */
	get clientUrl(): string {
		return `https://${this.address}:${this.clientPort}`;
	}

	get metricsUrl(): string {
		return `http://${this.address}:${this.metricsPort}/metrics`;
	}

	token(user: string, conference: string, right: AccessRight): string {
		return mintAccessToken({ user, conference, right, exp: Math.floor(Date.now() / 1000) + 600 }, this.#tokenSecret);
	}

	async metrics(): Promise<string> {
		const response = await fetch(this.metricsUrl, { signal: AbortSignal.timeout(5000) });
		if (!response.ok) throw new Error(`${this.metricsUrl}: HTTP ${response.status}`);
		return response.text();
	}

	/** Value of one metric sample, e.g. metricValue(text, 'sft_federation_handshake_refusals_total', { reason: 'domain_not_allowed' }). */
	static metricValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
		for (const line of text.split('\n')) {
			if (!line.startsWith(name)) continue;
			const match = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)/.exec(line);
			if (!match || match[1] !== name) continue;
			const have = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
			if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[3]);
		}
		return undefined;
	}

	/** Sends a signal to the SFT process only (SIGKILL: a crash; its mediasoup worker notices and exits). */
	kill(signal: NodeJS.Signals): void {
		if (!this.running) return;
		try {
			process.kill(this.pid, signal);
		} catch {
			// already gone
		}
	}

	/** SIGTERM (drainSeconds is 0), then SIGKILL to the whole process group after `graceMs`. Never throws. */
	async stop(graceMs = 5000): Promise<void> {
		if (this.running) {
			this.kill('SIGTERM');
			const timer = new Promise((resolve) => setTimeout(resolve, graceMs).unref());
			await Promise.race([this.exited, timer]);
		}
		// Also reaches a mediasoup worker the SFT left behind.
		killGroup(this.#child.pid, 'SIGKILL');
		if (this.running) await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
	}

	logTail(lines = 30): string {
		return this.logLines.slice(-lines).join('\n');
	}

	/** Writes everything captured to `logFile`; returns its path. */
	saveLog(): string {
		writeFileSync(this.logFile, `${this.logLines.join('\n')}\n`);
		return this.logFile;
	}

	#readyLine(): ReadyLine {
		if (!this.#ready) throw new Error(`${this.domain} SFT is not ready`);
		return this.#ready;
	}

	#waitForReady(timeoutMs: number): Promise<ReadyLine> {
		return new Promise((resolve, reject) => {
			let seen = 0;
			const check = () => {
				for (; seen < this.logLines.length; seen++) {
					const line = this.logLines[seen] as string;
					if (!line.includes('SFT ready')) continue;
					try {
						const parsed = JSON.parse(line) as ReadyLine & { msg?: string };
						if (parsed.msg === 'SFT ready') return finish(undefined, parsed);
					} catch {
						// not a JSON log line
					}
				}
				if (!this.running) finish(new Error(`${this.domain} SFT exited before it was ready (${describeExit(this.exitStatus)})`));
			};
			const poll = setInterval(check, 50);
			const timer = setTimeout(() => finish(new Error(`${this.domain} SFT not ready after ${timeoutMs} ms`)), timeoutMs);
			const finish = (error: Error | undefined, ready?: ReadyLine) => {
				clearInterval(poll);
				clearTimeout(timer);
				if (error) reject(error);
				else resolve(ready as ReadyLine);
			};
		});
	}
}

/**
 * Runs `npm start`'s entry point (signalling/main.ts) outside any namespace
 * with only `env` as SFT_* configuration, to the end: for start-up failures.
 */
export function runSftMainToExit(
	env: Record<string, string>,
	timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
	const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('SFT_') || key === 'SFT_CACHE_DIR'));
	const child = spawn(process.execPath, ['--import', 'tsx', 'signalling/main.ts'], {
		cwd: REPO_ROOT,
		env: { ...base, ...env },
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	return runToEnd(child, undefined, timeoutMs);
}

/** Stops every SFT; keeps their logs in `dir` when something failed, else removes `dir`. */
export async function stopSfts(sfts: Iterable<SftProcess>, dir: string, keepLogs: boolean): Promise<void> {
	const list = [...sfts];
	await Promise.all(list.map((s) => s.stop()));
	if (keepLogs) {
		for (const s of list) s.saveLog();
		console.log(`  SFT logs kept in ${dir}`);
	} else {
		rmSync(dir, { recursive: true, force: true });
	}
}

function describeExit(status: { code: number | null; signal: NodeJS.Signals | null } | undefined): string {
	if (!status) return 'running';
	return status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
}
