import { chmod, lstat, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CertsError } from './certsError.ts';

export interface OutputFile {
	name: string;
	content: string;
	/** Private keys are 0600 so only the SFT's user can read them. */
	secret: boolean;
}

/**
 * Writes a set of files into a directory, all or nothing with respect to the
 * overwrite check: if any target exists and `force` is false, nothing is written
 * (so a CA key is never silently replaced and orphaned from its certificate).
 */
export async function writeOutputFiles(directory: string, files: readonly OutputFile[], force: boolean): Promise<string[]> {
	try {
		await mkdir(directory, { recursive: true });
	} catch (error) {
		throw new CertsError(`cannot create output directory ${directory} (${(error as NodeJS.ErrnoException).code ?? error})`);
	}
	const targets = files.map((file) => ({ file, path: join(directory, file.name) }));
	const paths = targets.map((target) => target.path);
	if (!force) {
		const existing = (await Promise.all(paths.map(async (path) => ((await exists(path)) ? path : null)))).filter(Boolean);
		if (existing.length > 0) throw new CertsError(`refusing to overwrite ${existing.join(', ')} (use --force)`);
	}
	for (const { file, path } of targets) {
		const mode = file.secret ? 0o600 : 0o644;
		try {
			await writeFile(path, file.content, { mode, flag: force ? 'w' : 'wx' });
			// `mode` only applies when the file is created; --force over an old file must still end up 0600.
			await chmod(path, mode);
		} catch (error) {
			const code = (error as NodeJS.ErrnoException).code;
			if (code === 'EEXIST') throw new CertsError(`refusing to overwrite ${path} (use --force)`);
			throw new CertsError(`cannot write ${path} (${code ?? error})`);
		}
	}
	return paths;
}

async function exists(path: string): Promise<boolean> {
	try {
		await lstat(path);
		return true;
	} catch {
		return false;
	}
}
