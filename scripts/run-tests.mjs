#!/usr/bin/env node
// Runs every test/*.test.ts file in its own process (a crashed mediasoup
// worker or a leaked socket in one file cannot take the others down), then
// prints one closing line `N passed, N failed`. A file that exits non-zero or
// prints no uvu summary counts as failed even if uvu itself said 0 failures
// (uvu exits 0 when a hook throws).
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filter = process.argv.slice(2);
const files = readdirSync(join(root, 'test'))
	.filter((f) => f.endsWith('.test.ts'))
	.filter((f) => filter.length === 0 || filter.some((word) => f.includes(word)))
	.sort();

const perFileTimeoutMs = Number(process.env.SFT_TEST_FILE_TIMEOUT_MS ?? 300_000);
let passed = 0;
let failed = 0;
const failures = [];

for (const file of files) {
	const started = Date.now();
	const { code, output } = await runFile(join('test', file));
	const total = /Total:\s+(\d+)/.exec(output);
	const ok = /Passed:\s+(\d+)/.exec(output);
	const filePassed = ok ? Number(ok[1]) : 0;
	const fileTotal = total ? Number(total[1]) : 0;
	let fileFailed = fileTotal - filePassed;
	if ((code !== 0 || !total) && fileFailed === 0) fileFailed = 1;
	passed += filePassed;
	failed += fileFailed;
	if (fileFailed > 0) failures.push(file);
	console.log(
		`${fileFailed > 0 ? 'FAIL' : 'ok  '} ${file}: ${filePassed} passed, ${fileFailed} failed (${((Date.now() - started) / 1000).toFixed(1)} s)`,
	);
}

if (failures.length > 0) console.log(`failed files: ${failures.join(', ')}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);

function runFile(file) {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
		let output = '';
		const onData = (chunk) => {
			output += chunk;
			process.stdout.write(chunk);
		};
		child.stdout.on('data', onData);
		child.stderr.on('data', onData);
		const timer = setTimeout(() => {
			output += `\n[run-tests] ${file} timed out after ${perFileTimeoutMs} ms\n`;
			child.kill('SIGKILL');
		}, perFileTimeoutMs);
		child.on('close', (code) => {
			clearTimeout(timer);
			resolve({ code: code ?? 1, output });
		});
	});
}
