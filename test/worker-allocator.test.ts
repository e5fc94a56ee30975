// The workers' malloc: jemalloc is preloaded into real worker processes (and
// into a replacement after a crash), only into them, and a missing library or
// a misspelt choice is said plainly. Why jemalloc: RELIABILITY.md §7.

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dumpWorkerHeapProfile } from '../bench/workerHeap.ts';
import type { Sft } from '../sft/Sft.ts';
import { JEMALLOC_CONF, type ResolvedAllocator, resolveWorkerAllocator } from '../sft/workerAllocator.ts';
import { ConfigError, parseConfig } from '../signalling/config.ts';
import { exitSoon, startTestSft } from './support/testSft.ts';
import { until } from './support/until.ts';

const sfts: Sft[] = [];
test.after(() => {
	for (const sft of sfts) sft.close();
	exitSoon();
});

async function sftWith(allocator: ResolvedAllocator): Promise<Sft> {
	const sft = await startTestSft(undefined, { allocator });
	sfts.push(sft);
	return sft;
}

const mapsJemalloc = (pid: number) => readFileSync(`/proc/${pid}/maps`, 'utf8').includes('libjemalloc.so');
const environ = (pid: number) => readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');

test('jemalloc runs inside the worker with its settings, and Node keeps its own environment', async () => {
	const allocator = resolveWorkerAllocator('jemalloc');
	assert.is(allocator.missing, undefined, 'libjemalloc2 is installed (scripts/setup.sh)');
	const before = { preload: process.env['LD_PRELOAD'], conf: process.env['MALLOC_CONF'] };
	const sft = await sftWith(allocator);
	const worker = sft.pool.workers[0];
	assert.ok(worker);
	assert.ok(mapsJemalloc(worker.pid), 'the worker process has libjemalloc mapped');
	assert.ok(environ(worker.pid).includes(`MALLOC_CONF=${JEMALLOC_CONF}`), 'the worker got the jemalloc settings');
	assert.equal({ preload: process.env['LD_PRELOAD'], conf: process.env['MALLOC_CONF'] }, before, "Node's environment is unchanged");
	assert.not.ok(readFileSync('/proc/self/maps', 'utf8').includes('libjemalloc.so'), 'Node itself does not load jemalloc');

	// The replacement of a crashed worker is spawned the same way.
	process.kill(worker.pid, 'SIGKILL');
	await until(() => (sft.pool.workers[0]?.pid ?? worker.pid) !== worker.pid, 10_000, 'a replacement worker');
	const replacement = sft.pool.workers[0];
	assert.ok(replacement && mapsJemalloc(replacement.pid), 'the replacement worker runs jemalloc too');
});

test('system: the worker keeps glibc malloc', async () => {
	const sft = await sftWith(resolveWorkerAllocator('system'));
	const worker = sft.pool.workers[0];
	assert.ok(worker);
	assert.not.ok(mapsJemalloc(worker.pid));
	assert.not.ok(environ(worker.pid).some((v) => v.startsWith('MALLOC_CONF=')));
});

test('with profiling in MALLOC_CONF, a worker writes a jemalloc heap profile when asked (soak --heap-profile)', async () => {
	const dir = mkdtempSync(join(tmpdir(), 'sft-heap-profile-'));
	const profiled = await sftWith(resolveWorkerAllocator('jemalloc', { MALLOC_CONF: `prof:true,prof_prefix:${dir}/worker` }));
	const worker = profiled.pool.workers[0];
	assert.ok(worker);
	assert.ok(await dumpWorkerHeapProfile(worker.pid), 'prof.dump through gdb succeeded');
	const files = readdirSync(dir).filter((f) => f.startsWith(`worker.${worker.pid}.`) && f.endsWith('.heap'));
	assert.is(files.length, 1, `one profile for pid ${worker.pid}: ${files.join(', ')}`);
	assert.match(readFileSync(join(dir, files[0] ?? ''), 'utf8'), /^heap_v2\//);
	// Without prof:true the worker refuses, and the soak says so instead of pointing at no file.
	const plain = await sftWith(resolveWorkerAllocator('jemalloc', {}));
	const plainWorker = plain.pool.workers[0];
	assert.ok(plainWorker);
	assert.not.ok(await dumpWorkerHeapProfile(plainWorker.pid));
});

test('without the library, jemalloc falls back to the system malloc and says what to install', () => {
	const resolved = resolveWorkerAllocator('jemalloc', {}, () => false);
	assert.is(resolved.name, 'system');
	assert.equal(resolved.env, {});
	assert.match(resolved.missing ?? '', /apt install libjemalloc2/);
	// An LD_PRELOAD the operator set is kept, after ours.
	const kept = resolveWorkerAllocator('jemalloc', { LD_PRELOAD: '/opt/x.so' }, (p) => p.endsWith('libjemalloc.so.2'));
	assert.match(kept.env['LD_PRELOAD'] ?? '', /libjemalloc\.so\.2:\/opt\/x\.so$/);
	// A MALLOC_CONF the operator set comes after ours, so their settings win (jemalloc reads left to right).
	const conf = resolveWorkerAllocator('jemalloc', { MALLOC_CONF: 'prof:true' }, (p) => p.endsWith('libjemalloc.so.2'));
	assert.is(conf.env['MALLOC_CONF'], `${JEMALLOC_CONF},prof:true`);
});

test('config: jemalloc by default, and an unknown allocator is a config error naming the key', () => {
	assert.is(parseConfig({}).media.workerAllocator, 'jemalloc');
	assert.is(parseConfig({ media: { workerAllocator: 'system' } }).media.workerAllocator, 'system');
	try {
		parseConfig({ media: { workerAllocator: 'tcmalloc' } });
		assert.unreachable('tcmalloc accepted');
	} catch (error) {
		assert.instance(error, ConfigError);
		assert.match((error as Error).message, /media\.workerAllocator/);
	}
});

test.run();
