import { type Stats, unwatchFile, watchFile } from 'node:fs';

/**
 * Calls `onChange` (debounced) when any of the files changes. Polling stat()
 * rather than fs.watch because certificate files are usually replaced by
 * rename or by a symlink swap (Kubernetes secrets, certbot), which inotify
 * watches on the old inode would miss.
 */
export class TrustFileWatcher {
	readonly #listeners = new Map<string, (current: Stats, previous: Stats) => void>();
	#debounce: NodeJS.Timeout | undefined;

	constructor(paths: readonly string[], intervalMs: number, onChange: () => void) {
		for (const path of new Set(paths)) {
			const listener = (current: Stats, previous: Stats) => {
				if (current.mtimeMs === previous.mtimeMs && current.ino === previous.ino && current.size === previous.size) return;
				// Writers often touch cert and key in quick succession: reload once, after both.
				clearTimeout(this.#debounce);
				this.#debounce = setTimeout(onChange, Math.min(250, intervalMs));
			};
			// persistent: false, so a watcher never keeps the process alive on shutdown.
			watchFile(path, { interval: intervalMs, persistent: false }, listener);
			this.#listeners.set(path, listener);
		}
	}

	close(): void {
		clearTimeout(this.#debounce);
		for (const [path, listener] of this.#listeners) unwatchFile(path, listener);
		this.#listeners.clear();
	}
}
