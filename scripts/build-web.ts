// Builds the web app (client/web) into client/web/dist with esbuild: one
// script bundle (SDK, socket.io-client, mediasoup-client 3.24), one style
// sheet and the page. Skips the work when dist is newer than every source;
// `--force` rebuilds anyway. Run by scripts/setup.sh (npm start, npm test)
// and by `npm run build:web`.
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const webDir = join(root, 'client', 'web');
export const WEB_DIST_DIR = join(webDir, 'dist');
const STATIC_FILES = ['index.html', 'favicon.svg'];

/** Newest modification time among the SDK and app sources and the lockfile. */
async function newestSource(): Promise<number> {
	let newest = (await stat(join(root, 'package-lock.json'))).mtimeMs;
	const walk = async (dir: string): Promise<void> => {
		for (const entry of await readdir(dir, { withFileTypes: true })) {
			if (entry.name === 'dist' || entry.name === 'node_modules') continue;
			const path = join(dir, entry.name);
			if (entry.isDirectory()) await walk(path);
			else newest = Math.max(newest, (await stat(path)).mtimeMs);
		}
	};
	await walk(join(root, 'client'));
	newest = Math.max(newest, (await stat(join(root, 'signalling', 'client', 'protocol.ts'))).mtimeMs);
	return newest;
}

async function builtAt(): Promise<number> {
	try {
		const times = await Promise.all(['app.js', 'app.css', ...STATIC_FILES].map(async (f) => (await stat(join(WEB_DIST_DIR, f))).mtimeMs));
		return Math.min(...times);
	} catch {
		return 0;
	}
}

/** Builds the app unless it is up to date; returns whether it built. */
export async function buildWebApp(options: { force?: boolean } = {}): Promise<boolean> {
	if (!options.force && (await builtAt()) > (await newestSource())) return false;
	await mkdir(WEB_DIST_DIR, { recursive: true });
	await build({
		entryPoints: { app: join(webDir, 'main.ts') },
		bundle: true,
		format: 'iife',
		platform: 'browser',
		target: ['chrome110', 'firefox115', 'safari16'],
		minify: true,
		sourcemap: false,
		outdir: WEB_DIST_DIR,
		logLevel: 'warning',
		define: { 'process.env.NODE_ENV': '"production"' },
	});
	await build({
		entryPoints: { app: join(webDir, 'app.css') },
		bundle: true,
		minify: true,
		outdir: WEB_DIST_DIR,
		logLevel: 'warning',
	});
	for (const file of STATIC_FILES) await copyFile(join(webDir, file), join(WEB_DIST_DIR, file));
	return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
	const built = await buildWebApp({ force: process.argv.includes('--force') });
	if (built) console.error('[setup] web app built into client/web/dist');
}
