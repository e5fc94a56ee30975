import { execFile } from 'node:child_process';
import { readFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Bytes a worker's allocator has handed out and not had back (glibc's
 * `malloc_info`, asked through gdb, which pauses the worker for a moment).
 * RSS also counts freed memory glibc keeps in fragmented pages; this does
 * not, so it tells a leak from a high-water mark. Undefined when gdb is
 * missing or may not attach.
 */
export async function workerHeapInUse(pid: number): Promise<number | undefined> {
	const file = join(tmpdir(), `sft-malloc-info-${pid}-${Date.now()}.xml`);
	try {
		await run(
			'gdb',
			[
				'-p',
				String(pid),
				'-batch',
				'-ex',
				`set $f = (void*)fopen("${file}","w")`,
				'-ex',
				'call (int)malloc_info(0,$f)',
				'-ex',
				'call (int)fclose($f)',
			],
			{ timeout: 20_000 },
		);
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
