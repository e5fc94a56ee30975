// The dependency direction of the tree, checked on every import statement:
// signalling → sft, certs; sft and certs know nothing of signalling (nor sft
// of socket.io); the federation layers never use the client protocol; the
// relay uses the trust layer, never the other way round; the calling client
// talks to signalling only through the protocol's types.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = resolve(import.meta.dirname, '..');

interface ImportEdge {
	from: string;
	to: string;
}

function sourceFiles(dir: string): string[] {
	const out: string[] = [];
	let entries: string[];
	try {
		entries = readdirSync(join(root, dir));
	} catch {
		return out;
	}
	for (const name of entries) {
		const path = join(dir, name);
		if (name === 'node_modules' || name === 'dist') continue;
		if (statSync(join(root, path)).isDirectory()) out.push(...sourceFiles(path));
		else if (/\.(ts|tsx|mts)$/.test(name)) out.push(path);
	}
	return out;
}

/** Every import of a file: relative ones resolved to a repo path, bare ones kept as the package name. */
function importsOf(file: string): ImportEdge[] {
	const text = readFileSync(join(root, file), 'utf8');
	const edges: ImportEdge[] = [];
	for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]/g)) {
		const spec = match[1] ?? '';
		const to = spec.startsWith('.') ? relative(root, resolve(root, dirname(file), spec)) : spec;
		edges.push({ from: file, to });
	}
	return edges;
}

function violations(dir: string, forbidden: (to: string) => boolean): string[] {
	return sourceFiles(dir)
		.flatMap(importsOf)
		.filter((edge) => forbidden(edge.to))
		.map((edge) => `${edge.from} imports ${edge.to}`);
}

const under = (prefix: string) => (to: string) => to === prefix || to.startsWith(`${prefix}/`);

test('the import scanner sees the imports it checks (sanity)', () => {
	const edges = importsOf('signalling/SftServer.ts').map((e) => e.to);
	assert.ok(edges.some(under('sft')), 'SftServer imports the media plane');
	assert.ok(edges.some(under('signalling/client')), 'SftServer imports the client protocol');
});

test('sft/ knows nothing of signalling, certs or socket.io', () => {
	assert.equal(
		violations('sft', (to) => under('signalling')(to) || under('certs')(to) || to.startsWith('socket.io')),
		[],
	);
});

test('certs/ knows nothing of sft or signalling', () => {
	assert.equal(
		violations('certs', (to) => under('sft')(to) || under('signalling')(to)),
		[],
	);
});

test('the federation trust channel and relay never use the client protocol', () => {
	assert.equal(violations('signalling/federation', under('signalling/client')), []);
});

test('the trust channel does not depend on the relay built on it', () => {
	assert.equal(violations('signalling/federation/trust', under('signalling/federation/relay')), []);
});

test('client/ reaches signalling only through the protocol types', () => {
	const allowed = new Set(['signalling/client/protocol.ts', 'signalling/federation/relay/linkMessages.ts']);
	assert.equal(
		violations('client', (to) => (under('signalling')(to) && !allowed.has(to)) || under('sft')(to) || under('certs')(to)),
		[],
	);
});

test.run();
