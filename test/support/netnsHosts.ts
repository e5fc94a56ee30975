// Test hosts as Linux network namespaces: each host is a namespace with one
// veth pair to the root namespace (root side 10.231.<k>.1/30, namespace side
// 10.231.<k>.2/30). The root namespace routes between them (ip_forward), so
// hosts reach each other and the test process (root namespace) reaches every
// host at its own address; nothing leaves the machine.
//
// Names carry a per-run tag and the owning pid (`sftnet-<pid>-<tag>-<i>`), so a
// run tears down its own hosts and also those of earlier runs whose process is
// gone (crashed, SIGKILLed), never those of a concurrent live run.
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';

const NS_PREFIX = 'sftnet-';
/** veth names: `sfv<tag4><i><r|n>` (at most 15 characters). */
const VETH_PATTERN = /^sfv([0-9a-z]{4})(\d+)[rn]$/;
const SUBNET = '10.231';
const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';
/** The value of ip_forward before the first live run turned it on (restored by the last one). */
const IP_FORWARD_MARKER = '/run/sftnet-ip_forward.orig';

export interface NetnsHost {
	index: number;
	/** Namespace name, for `ip netns exec`. */
	namespace: string;
	/** The host's address (namespace side of its veth pair). */
	address: string;
	/** Root-namespace side of the veth pair; the host's default gateway. */
	gateway: string;
	rootInterface: string;
	namespaceInterface: string;
}

/** `ip netns` cannot be used here (not root, no iproute2, no namespace support). */
export class NetnsUnavailableError extends Error {
	override name = 'NetnsUnavailableError';
}

export interface CreateNetnsHostsOptions {
	/** Third octets of 10.231.X.0/30 to avoid in addition to those in use (tests). */
	avoidOctets?: number[];
}

export class NetnsHosts {
	readonly hosts: readonly NetnsHost[];
	readonly tag: string;
	readonly #children = new Set<ChildProcess>();
	#destroyed = false;
	readonly #onExit = () => this.destroy();
	/** Tear down, then die of the signal as if we had not been listening. */
	readonly #onSignal = (signal: NodeJS.Signals) => {
		this.destroy();
		process.kill(process.pid, signal);
	};

	private constructor(tag: string, hosts: NetnsHost[]) {
		this.tag = tag;
		this.hosts = hosts;
		process.once('exit', this.#onExit);
		process.once('SIGINT', this.#onSignal);
		process.once('SIGTERM', this.#onSignal);
	}

	/** Why network namespaces cannot be used here, or undefined when they can (cheap checks only). */
	static unavailableReason(): string | undefined {
		if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
		if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'network namespaces need root (run the test as root)';
		try {
			execFileSync('ip', ['netns', 'list'], { stdio: ['ignore', 'pipe', 'pipe'] });
		} catch (error) {
			return `"ip netns" is not available (${firstLine(error)}); install iproute2`;
		}
		return undefined;
	}

	/**
	 * Creates `count` hosts. Throws NetnsUnavailableError when namespaces cannot
	 * be created at all (callers skip), any other error for real failures.
	 */
	static create(count: number, options: CreateNetnsHostsOptions = {}): NetnsHosts {
		const reason = NetnsHosts.unavailableReason();
		if (reason) throw new NetnsUnavailableError(reason);
		cleanupStale();
		const tag = randomBytes(4).readUInt32BE(0).toString(36).padStart(4, '0').slice(-4);
		const octets = freeOctets(count, new Set(options.avoidOctets ?? []));
		const hosts: NetnsHost[] = [];
		const netns = new NetnsHosts(tag, hosts);
		try {
			enableForwarding();
			for (let i = 0; i < count; i++) {
				const octet = octets[i] as number;
				const host: NetnsHost = {
					index: i,
					namespace: `${NS_PREFIX}${process.pid}-${tag}-${i}`,
					address: `${SUBNET}.${octet}.2`,
					gateway: `${SUBNET}.${octet}.1`,
					rootInterface: `sfv${tag}${i}r`,
					namespaceInterface: `sfv${tag}${i}n`,
				};
				try {
					ip('netns', 'add', host.namespace);
				} catch (error) {
					if (i === 0) throw new NetnsUnavailableError(`cannot create a network namespace: ${firstLine(error)}`);
					throw error;
				}
				hosts.push(host);
				ip('link', 'add', host.rootInterface, 'type', 'veth', 'peer', 'name', host.namespaceInterface);
				ip('link', 'set', host.namespaceInterface, 'netns', host.namespace);
				ip('addr', 'add', `${host.gateway}/30`, 'dev', host.rootInterface);
				ip('link', 'set', host.rootInterface, 'up');
				ipIn(host.namespace, 'link', 'set', 'lo', 'up');
				ipIn(host.namespace, 'addr', 'add', `${host.address}/30`, 'dev', host.namespaceInterface);
				ipIn(host.namespace, 'link', 'set', host.namespaceInterface, 'up');
				ipIn(host.namespace, 'route', 'add', 'default', 'via', host.gateway);
			}
		} catch (error) {
			netns.destroy();
			throw error;
		}
		return netns;
	}

	host(index: number): NetnsHost {
		const host = this.hosts[index];
		if (!host) throw new Error(`no netns host ${index} (have ${this.hosts.length})`);
		return host;
	}

	/**
	 * Starts `command args…` inside the host's namespace (`ip netns exec`, which
	 * execs in place: the child's pid is the command's). The child leads its own
	 * process group, so `killGroup` also reaches what it spawns.
	 */
	spawn(host: NetnsHost, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
		if (this.#destroyed) throw new Error('netns hosts already torn down');
		const child = spawn('ip', ['netns', 'exec', host.namespace, command, ...args], { detached: true, ...options });
		this.#children.add(child);
		child.once('exit', () => this.#children.delete(child));
		return child;
	}

	/** Runs a command in the host's namespace to completion; returns stdout. */
	exec(host: NetnsHost, command: string, args: readonly string[], timeoutMs = 10_000): string {
		return execFileSync('ip', ['netns', 'exec', host.namespace, command, ...args], {
			encoding: 'utf8',
			timeout: timeoutMs,
			stdio: ['ignore', 'pipe', 'pipe'],
		});
	}

	/** Kills everything still running in the namespaces and deletes them (and their veth pairs). Idempotent, synchronous. */
	destroy(): void {
		if (this.#destroyed) return;
		this.#destroyed = true;
		process.off('exit', this.#onExit);
		process.off('SIGINT', this.#onSignal);
		process.off('SIGTERM', this.#onSignal);
		for (const child of this.#children) killGroup(child.pid, 'SIGKILL');
		this.#children.clear();
		for (const host of this.hosts) removeNamespace(host.namespace);
		for (const link of listLinks()) {
			const match = VETH_PATTERN.exec(link);
			if (match?.[1] === this.tag) quietly(() => ip('link', 'del', link));
		}
		restoreForwardingIfLast();
	}
}

/** Sends `signal` to a process group led by `pid` (falls back to the process). Never throws. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
	if (pid === undefined) return;
	try {
		process.kill(-pid, signal);
	} catch {
		quietly(() => process.kill(pid, signal));
	}
}

function ip(...args: string[]): string {
	return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

function ipIn(namespace: string, ...args: string[]): string {
	return ip('-n', namespace, ...args);
}

function quietly(fn: () => unknown): void {
	try {
		fn();
	} catch {
		// best effort
	}
}

function firstLine(error: unknown): string {
	const e = error as { stderr?: string | Buffer; message?: string };
	const text = (e.stderr ? String(e.stderr) : '') || e.message || String(error);
	return text.trim().split('\n')[0] ?? '';
}

function listNamespaces(): string[] {
	try {
		return ip('netns', 'list')
			.split('\n')
			.map((line) => line.trim().split(/\s+/)[0] ?? '')
			.filter((name) => name.length > 0);
	} catch {
		return [];
	}
}

function listLinks(): string[] {
	try {
		return ip('-o', 'link', 'show')
			.split('\n')
			.map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? '')
			.filter((name) => name.length > 0);
	} catch {
		return [];
	}
}

function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/** Our namespaces' owner pid and tag, from `sftnet-<pid>-<tag>-<i>`. */
function parseNamespace(name: string): { pid: number; tag: string } | undefined {
	const match = /^sftnet-(\d+)-([0-9a-z]{4})-\d+$/.exec(name);
	return match ? { pid: Number(match[1]), tag: match[2] as string } : undefined;
}

function liveRuns(): { namespaces: string[]; tags: Set<string> } {
	const namespaces: string[] = [];
	const tags = new Set<string>();
	for (const name of listNamespaces()) {
		const owner = parseNamespace(name);
		if (owner && isAlive(owner.pid)) {
			namespaces.push(name);
			tags.add(owner.tag);
		}
	}
	return { namespaces, tags };
}

/** Kills the processes left in a namespace (only our own test processes live there), then deletes it. */
function removeNamespace(namespace: string): void {
	let pids: number[] = [];
	try {
		pids = ip('netns', 'pids', namespace).split(/\s+/).filter(Boolean).map(Number);
	} catch {
		// gone already
	}
	for (const pid of pids) quietly(() => process.kill(pid, 'SIGKILL'));
	quietly(() => ip('netns', 'del', namespace));
}

/** Namespaces and veth pairs of runs whose process is gone. */
function cleanupStale(): void {
	for (const name of listNamespaces()) {
		const owner = parseNamespace(name);
		if (owner && owner.pid !== process.pid && !isAlive(owner.pid)) removeNamespace(name);
	}
	const { tags } = liveRuns();
	for (const link of listLinks()) {
		const match = VETH_PATTERN.exec(link);
		if (match && !tags.has(match[1] as string)) quietly(() => ip('link', 'del', link));
	}
}

/** Third octets of 10.231.X.0/30 not used by any address in the root namespace. */
function freeOctets(count: number, avoid: Set<number>): number[] {
	const used = new Set(avoid);
	for (const match of ip('-4', '-o', 'addr', 'show').matchAll(/inet 10\.231\.(\d+)\./g)) used.add(Number(match[1]));
	const free: number[] = [];
	for (let octet = 1; octet <= 254 && free.length < count; octet++) if (!used.has(octet)) free.push(octet);
	if (free.length < count) throw new Error(`no free 10.231.X.0/30 subnets for ${count} hosts`);
	return free;
}

function enableForwarding(): void {
	const current = readFileSync(IP_FORWARD, 'utf8').trim();
	if (current === '1') return;
	if (!existsSync(IP_FORWARD_MARKER)) writeFileSync(IP_FORWARD_MARKER, current);
	writeFileSync(IP_FORWARD, '1');
}

function restoreForwardingIfLast(): void {
	if (!existsSync(IP_FORWARD_MARKER)) return;
	if (liveRuns().namespaces.length > 0) return;
	quietly(() => {
		writeFileSync(IP_FORWARD, readFileSync(IP_FORWARD_MARKER, 'utf8').trim() || '0');
		rmSync(IP_FORWARD_MARKER, { force: true });
	});
}
