// Shared plumbing for the trust-* tests: captured logs, metric reads, waiting,
// child processes that are always killed, and Federation instances on port 0.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { type Counter, type Gauge, Registry } from 'prom-client';
import { Federation, type FederationOptions } from '../../signalling/federation/trust/federation.ts';
import { type EnabledFederationConfig, federationConfigSchema } from '../../signalling/federation/trust/federationConfig.ts';

export interface LogEntry {
	level: number;
	msg: string;
	reason?: string;
	direction?: string;
	domain?: string;
	[key: string]: unknown;
}

export function captureLogger(): { logger: Logger; entries: LogEntry[] } {
	const entries: LogEntry[] = [];
	const logger = pino({ level: 'debug' }, { write: (line: string) => void entries.push(JSON.parse(line) as LogEntry) });
	return { logger, entries };
}

export async function refusalCount(registry: Registry, reason: string): Promise<number> {
	const metric = registry.getSingleMetric('sft_federation_handshake_refusals_total') as Counter | undefined;
	const values = (await metric?.get())?.values ?? [];
	return values.find((value) => value.labels.reason === reason)?.value ?? 0;
}

export async function connectionCount(registry: Registry, domain: string): Promise<number> {
	const metric = registry.getSingleMetric('sft_federation_connections') as Gauge | undefined;
	const values = (await metric?.get())?.values ?? [];
	return values.find((value) => value.labels.remote_domain === domain)?.value ?? 0;
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await predicate())) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}

/** Everything a test starts, torn down in reverse order even when the test fails. */
export class Cleanup {
	readonly #steps: (() => unknown)[] = [];
	add(step: () => unknown): void {
		this.#steps.push(step);
	}
	async run(): Promise<void> {
		for (const step of this.#steps.reverse()) {
			try {
				await step();
			} catch {
				// keep cleaning
			}
		}
		this.#steps.length = 0;
	}
}

export async function temporaryDirectory(cleanup: Cleanup, prefix: string): Promise<string> {
	const dir = await mkdtemp(join(tmpdir(), prefix));
	cleanup.add(() => rm(dir, { recursive: true, force: true }));
	return dir;
}

/** Spawns a child that the cleanup kills (by its own pid) if still running. */
export function spawnTracked(cleanup: Cleanup, command: string, args: string[]): ChildProcess {
	const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
	const kill = () => {
		if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
	};
	// Also on abrupt exit (uncaught error in a hook), where async cleanup never runs.
	process.once('exit', kill);
	cleanup.add(() => {
		process.off('exit', kill);
		kill();
	});
	return child;
}

export interface TestFederation {
	federation: Federation;
	registry: Registry;
	logs: LogEntry[];
	config: EnabledFederationConfig;
}

export async function startTestFederation(
	cleanup: Cleanup,
	config: {
		domain: string;
		certFile: string;
		keyFile: string;
		trustBundleFile: string;
		allowList?: string[];
		allowAnyTrustedDomain?: boolean;
		peers?: Record<string, { host: string; port: number }>;
		dnsServers?: string[];
	},
	extra: Partial<Omit<FederationOptions, 'config' | 'logger' | 'registry'>> = {},
): Promise<TestFederation> {
	const parsed = federationConfigSchema.parse({ enabled: true, listen: { ip: '127.0.0.1', port: 0 }, ...config });
	if (!parsed.enabled) throw new Error('unreachable');
	const registry = new Registry();
	const { logger, entries } = captureLogger();
	const federation = await Federation.start({ config: parsed, logger, registry, connectTimeoutMs: 5000, watchIntervalMs: 100, ...extra });
	cleanup.add(() => federation.close());
	return { federation, registry, logs: entries, config: parsed };
}

/** Runs a child to completion (with a timeout), collecting output. */
export function runToEnd(
	child: ChildProcess,
	input: string | undefined,
	timeoutMs = 10_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve) => {
		let stdout = '';
		let stderr = '';
		child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
		child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
		const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
		child.on('close', (code) => {
			clearTimeout(timer);
			resolve({ code, stdout, stderr });
		});
		if (input !== undefined) child.stdin?.end(input);
	});
}

/**
 * Safety net after cleanup: uvu sets the exit code once all suites ran, so a
 * handle leaked by a failing test must not keep the process (and CI) waiting.
 */
export function exitSoon(ms = 3000): void {
	setTimeout(() => process.exit(), ms).unref();
}
