// A federated call under constant churn: `npm run soak -- --minutes 30`.
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { WorkerAllocator } from '../sft/workerAllocator.ts';
import { describe, runSoak, type SoakSnapshot } from './soakRun.ts';

const minutes = (value: string): number => {
	const n = Number(value);
	if (!Number.isFinite(n) || n < 1 || n > 24 * 60) throw new InvalidArgumentError('expected minutes between 1 and 1440');
	return n;
};

const options = new Command()
	.name('soak')
	.description(
		'3 domains, joins and leaves every few seconds, view changes, a link flap a minute, one worker kill; compares what is alive before and after',
	)
	.option('-m, --minutes <n>', 'how long the churn runs', minutes, 30)
	.option('--warmup <minutes>', 'churn before the baseline is taken, within --minutes (default: 1, or a quarter of a shorter run)', Number)
	.option('--seed <n>', 'seed of the random churn', Number, 42)
	.addOption(
		new Option('--allocator <name>', "the workers' malloc (media.workerAllocator)").choices(['jemalloc', 'system']).default('jemalloc'),
	)
	.option(
		'--heap-in-use',
		"also compare the bytes the workers' malloc has handed out (gdb: jemalloc's stats.allocated or glibc's malloc_info; pauses each worker briefly)",
	)
	.option(
		'--heap-profile <dir>',
		'run the workers with jemalloc heap profiling and have each write a profile to <dir> at the baseline and the end (compare them with jeprof --base)',
	)
	.option('--json', 'print the result as JSON')
	.parse()
	.opts<{
		minutes: number;
		warmup?: number;
		seed: number;
		allocator: WorkerAllocator;
		heapInUse?: boolean;
		heapProfile?: string;
		json?: boolean;
	}>();

if (options.warmup !== undefined && !(options.warmup >= 0 && options.warmup < options.minutes)) {
	console.error('soak: --warmup must be at least 0 and shorter than --minutes');
	process.exit(2);
}

const profileDir = options.heapProfile !== undefined ? resolve(options.heapProfile) : undefined;
if (profileDir !== undefined) {
	if (options.allocator !== 'jemalloc') {
		console.error('soak: --heap-profile needs the workers on jemalloc (--allocator jemalloc)');
		process.exit(2);
	}
	mkdirSync(profileDir, { recursive: true });
	// The SFT appends MALLOC_CONF to its own jemalloc settings for the workers it spawns.
	// A sample every 4 KiB allocated on average: fine enough for the worker's few MB of heap.
	const profiling = `prof:true,lg_prof_sample:12,prof_prefix:${profileDir}/worker`;
	process.env['MALLOC_CONF'] = process.env['MALLOC_CONF'] ? `${process.env['MALLOC_CONF']},${profiling}` : profiling;
}

const result = await runSoak({
	minutes: options.minutes,
	seed: options.seed,
	...(options.warmup !== undefined ? { warmupMinutes: options.warmup } : {}),
	heapInUse: options.heapInUse === true,
	heapProfile: profileDir !== undefined,
	allocator: options.allocator,
	onProgress: (line) => console.error(line),
});
if (options.json) console.log(JSON.stringify(result, null, 2));
else {
	type NumericKey = { [K in keyof SoakSnapshot]-?: SoakSnapshot[K] extends number | undefined ? K : never }[keyof SoakSnapshot];
	const rows: [string, NumericKey, 'mb' | 'n'][] = [
		['mediasoup routers', 'routers', 'n'],
		['worker objects (own count)', 'workerObjects', 'n'],
		['mediasoup transports', 'transports', 'n'],
		['mediasoup producers', 'producers', 'n'],
		['mediasoup consumers', 'consumers', 'n'],
		['participants (all SFTs)', 'participants', 'n'],
		['Node RSS (3 SFTs + clients)', 'nodeRssBytes', 'mb'],
		['Node heap used', 'nodeHeapUsedBytes', 'mb'],
		['worker RSS (3 workers)', 'workerRssBytes', 'mb'],
		['worker heap in use (malloc, 3 workers)', 'workerHeapInUseBytes', 'mb'],
		['Node file descriptors', 'nodeFds', 'n'],
		['worker file descriptors', 'workerFds', 'n'],
	];
	console.log(
		`\n${result.seconds.toFixed(0)} s: ${result.joins} joins, ${result.leaves} leaves, ${result.viewChanges} view changes, ${result.linkFlaps} link flaps, ${result.workerKills} worker kill, ${result.errors} failed requests (${JSON.stringify(result.errorCodes)}); ${result.steadyHearingAll} of ${result.steadyCallers} steady callers hear all the others at the end\n`,
	);
	console.log('| | baseline | end | change |');
	console.log('| --- | --- | --- | --- |');
	for (const [label, key, unit] of rows) {
		const before = result.baseline[key];
		const after = result.end[key];
		if (before === undefined || after === undefined) continue;
		const show = (n: number) => (unit === 'mb' ? `${(n / 1e6).toFixed(1)} MB` : String(n));
		const change = before === 0 ? '' : `${(((after - before) / before) * 100).toFixed(1)} %`;
		console.log(`| ${label} | ${show(before)} | ${show(after)} | ${change} |`);
	}
	for (const domain of Object.keys(result.end.workerRssByDomain))
		console.log(
			`| worker RSS ${domain} | ${result.baseline.workerRssByDomain[domain]} MB | ${result.end.workerRssByDomain[domain]} MB | |`,
		);
	for (const domain of Object.keys(result.end.workerHeapInUseByDomain ?? {}))
		console.log(
			`| worker heap in use ${domain} | ${result.baseline.workerHeapInUseByDomain?.[domain]} MB | ${result.end.workerHeapInUseByDomain?.[domain]} MB | |`,
		);
	console.error(`\nbaseline: ${describe(result.baseline)}\nend:      ${describe(result.end)}`);
	if (profileDir !== undefined) {
		for (const domain of Object.keys(result.end.heapProfilePids ?? {}))
			console.error(
				`heap profiles ${domain}: baseline pids ${result.baseline.heapProfilePids?.[domain]?.join(',') || 'none'}, end pids ${result.end.heapProfilePids?.[domain]?.join(',') || 'none'} (${profileDir}/worker.<pid>.<n>.m<n>.heap)`,
			);
		console.error(`compare: jeprof --text --cum --base=<baseline .heap> <mediasoup-worker binary> <end .heap>`);
	}
}
process.exit(0);
