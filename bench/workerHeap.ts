import { execFile } from 'node:child_process';
import { readFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Runs gdb commands against a live process (attached for a moment, then detached); stdout. */
async function gdbBatch(pid: number, commands: string[]): Promise<string> {
	const { stdout } = await run('gdb', ['-p', String(pid), '-batch', ...commands.flatMap((c) => ['-ex', c])], { timeout: 20_000 });
	return stdout;
}

/**
 * Bytes a worker's allocator has handed out and not had back, asked through
 * gdb (which pauses the worker for a moment): jemalloc's `stats.allocated`
 * when the worker runs it, else glibc's `malloc_info`. RSS also counts freed
 * memory an allocator keeps in fragmented pages; this does not, so it tells a
 * leak from a high-water mark. Undefined when gdb is missing or may not attach.
 */
export async function workerHeapInUse(pid: number): Promise<number | undefined> {
	const maps = await readFile(`/proc/${pid}/maps`, 'utf8').catch(() => '');
	return maps.includes('libjemalloc') ? jemallocAllocated(pid) : glibcInUse(pid);
}

async function jemallocAllocated(pid: number): Promise<number | undefined> {
	try {
		const stdout = await gdbBatch(pid, [
			'set $v = (unsigned long*)malloc(16)',
			'set $size = (unsigned long*)malloc(8)',
			'set *$size = 8',
			'set *$v = 1',
			// A new epoch refreshes jemalloc's cached statistics.
			'call (int)mallctl("epoch", 0, 0, $v, 8)',
			'call (int)mallctl("stats.allocated", $v, $size, 0, 0)',
			'printf "allocated %lu\\n", *$v',
			'call (void)free($v)',
			'call (void)free($size)',
		]);
		const bytes = Number(/^allocated (\d+)$/m.exec(stdout)?.[1]);
		return Number.isFinite(bytes) ? bytes : undefined;
	} catch {
		return undefined;
	}
}

async function glibcInUse(pid: number): Promise<number | undefined> {
	const file = join(tmpdir(), `sft-malloc-info-${pid}-${Date.now()}.xml`);
	try {
		await gdbBatch(pid, [`set $f = (void*)fopen("${file}","w")`, 'call (int)malloc_info(0,$f)', 'call (int)fclose($f)']);
		const xml = await readFile(file, 'utf8');
		// The last totals are the process's (after one section per arena).
		const last = (pattern: RegExp) => Number([...xml.matchAll(pattern)].at(-1)?.[1] ?? Number.NaN);
		const system = last(/<system type="current" size="(\d+)"\/>/g);
		const free = last(/<total type="fast" count="\d+" size="(\d+)"\/>/g) + last(/<total type="rest" count="\d+" size="(\d+)"\/>/g);
		const mmapped = last(/<total type="mmap" count="\d+" size="(\d+)"\/>/g);
		const inUse = system - free + mmapped;
		return Number.isFinite(inUse) ? inUse : undefined;
	} catch {
		return undefined;
	} finally {
		await unlink(file).catch(() => undefined);
	}
}

/**
 * Has a worker running jemalloc with `prof:true` write a heap profile now
 * (`mallctl("prof.dump")`, to its `prof_prefix`.<pid>.<n>.m<n>.heap); false when
 * gdb is missing, may not attach, or profiling is off.
 */
export async function dumpWorkerHeapProfile(pid: number): Promise<boolean> {
	try {
		const stdout = await gdbBatch(pid, ['printf "dumped %d\\n", (int)mallctl("prof.dump", 0, 0, 0, 0)']);
		return /^dumped 0$/m.test(stdout);
	} catch {
		return false;
	}
}
