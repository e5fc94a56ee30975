/**
 * What the machine as a whole did during a bench window (Linux /proc; zeros
 * elsewhere): CPU busy across all cores, CPU and memory of a process, and UDP
 * datagrams the kernel dropped because a socket's receive buffer was full,
 * machine-wide and per socket.
 */
import { readFileSync } from 'node:fs';

/** Busy and total jiffies of all cores from /proc/stat. */
export function machineCpuTicks(): { busy: number; total: number } {
	try {
		const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number);
		const total = fields.reduce((n, v) => n + v, 0);
		const idle = (fields[3] ?? 0) + (fields[4] ?? 0); // idle + iowait
		return { busy: total - idle, total };
	} catch {
		return { busy: 0, total: 0 };
	}
}

/** Datagrams the kernel dropped machine-wide because a receive buffer was full. */
export function udpReceiveBufferErrors(): number {
	try {
		const lines = readFileSync('/proc/net/snmp', 'utf8')
			.split('\n')
			.filter((l) => l.startsWith('Udp:'));
		const names = lines[0]?.split(/\s+/) ?? [];
		const values = lines[1]?.split(/\s+/) ?? [];
		return Number(values[names.indexOf('RcvbufErrors')] ?? 0);
	} catch {
		return 0;
	}
}

/**
 * Drops of each UDP socket bound to one of `ports` (the last column of
 * /proc/net/udp and udp6), summed: tells whether the load clients' sockets or
 * the SFT's overflowed.
 */
export function udpSocketDrops(ports: ReadonlySet<number>): number {
	let drops = 0;
	for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
		let text: string;
		try {
			text = readFileSync(file, 'utf8');
		} catch {
			continue;
		}
		for (const line of text.split('\n').slice(1)) {
			const fields = line.trim().split(/\s+/);
			const port = Number.parseInt(fields[1]?.split(':')[1] ?? '', 16);
			if (ports.has(port)) drops += Number(fields[fields.length - 1] ?? 0) || 0;
		}
	}
	return drops;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux for all practical purposes). */
const USER_HZ = 100;

/**
 * Time the process's main thread ran, in ns (/proc/<pid>/schedstat; 0 where
 * the kernel has none). stat's utime + stime count in 10 ms ticks, so a
 * short, light window can read 0; a mediasoup worker does its work on its
 * main thread.
 */
function onCpuNanoseconds(pid: number): number {
	try {
		return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) || 0;
	} catch {
		return 0;
	}
}

/**
 * CPU seconds (user + system) and resident bytes of a process, read from
 * /proc rather than asked of it: a mediasoup worker too busy to answer its
 * channel within seconds is still measured. Undefined where /proc is missing.
 */
export function processUsage(pid: number): { cpuSeconds: number; rssBytes: number } | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
		// Fields after the command name, which may contain spaces: state is field 3, utime 14, stime 15.
		const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
		const ticks = Number(fields[11]) + Number(fields[12]);
		const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]);
		if (!Number.isFinite(ticks) || !Number.isFinite(pages)) return undefined;
		return { cpuSeconds: onCpuNanoseconds(pid) / 1e9 || ticks / USER_HZ, rssBytes: pages * 4096 };
	} catch {
		return undefined;
	}
}
