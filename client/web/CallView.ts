import type { Call } from '../Call.ts';
import type { CallSnapshot, Tile } from '../state/CallState.ts';
import type { TileSize } from '../state/view.ts';
import { byId, element } from './dom.ts';
import { fitGrid } from './gridLayout.ts';
import { inviteLink } from './invite.ts';
import { describeMediaError, openScreen } from './localMedia.ts';
import { TileView } from './TileView.ts';

export interface CallViewOptions {
	/** Shows a message to the user (errors and notices). */
	notify(message: string): void;
	/** The user clicked Leave. */
	onLeave(): void;
}

const DEBUG_INTERVAL_MS = 1000;
const SIZE_DEBOUNCE_MS = 150;

/**
 * The call screen bound to one Call: the header with the federation status,
 * the grid of tiles, the controls, remote audio, and the debug overlays.
 */
export class CallView {
	readonly #call: Call;
	readonly #options: CallViewOptions;
	readonly #tiles = new Map<string, TileView>();
	readonly #audio = new Map<string, HTMLAudioElement>();
	readonly #grid = byId('tiles');
	readonly #stage = byId('stage');
	readonly #resize: ResizeObserver;
	readonly #off: (() => void)[] = [];
	#sizeTimer: ReturnType<typeof setTimeout> | undefined;
	#debugTimer: ReturnType<typeof setInterval> | undefined;
	#closed = false;

	constructor(call: Call, options: CallViewOptions) {
		this.#call = call;
		this.#options = options;
		this.#resize = new ResizeObserver(() => {
			this.#layoutGrid();
			this.#sizesChanged();
		});
		this.#resize.observe(this.#grid);
		byId('conference-name').textContent = call.conferenceId;
		this.#off.push(
			call.on('changed', (snapshot) => this.#render(snapshot)),
			call.on('trackAdded', () => this.#render(call.snapshot)),
			call.on('trackRemoved', () => this.#render(call.snapshot)),
			call.on('connection', (state) => {
				const chip = byId('connection-state');
				chip.hidden = state !== 'reconnecting';
				chip.textContent = 'Reconnecting…';
			}),
		);
		this.#bindControls();
		this.#render(call.snapshot);
	}

	close(): void {
		if (this.#closed) return;
		this.#closed = true;
		for (const off of this.#off.splice(0)) off();
		this.#resize.disconnect();
		clearTimeout(this.#sizeTimer);
		clearInterval(this.#debugTimer);
		this.#debugTimer = undefined;
		byId('debug-button').setAttribute('aria-pressed', 'false');
		for (const view of this.#tiles.values()) view.element.remove();
		this.#tiles.clear();
		byId('call-screen').classList.remove('pinning');
		for (const audio of this.#audio.values()) audio.remove();
		this.#audio.clear();
	}

	#render(snapshot: CallSnapshot): void {
		if (this.#closed) return;
		this.#renderHeader(snapshot);
		this.#renderTiles(snapshot.tiles);
		this.#renderAudio();
		this.#renderControls();
	}

	#renderHeader(snapshot: CallSnapshot): void {
		const status = byId('federation-status');
		status.dataset['federated'] = String(snapshot.federated);
		status.dataset['anchor'] = snapshot.anchorDomain ?? '';
		status.dataset['domain'] = snapshot.domain ?? '';
		const parts: HTMLElement[] = [];
		if (snapshot.federated) {
			const anchor = element('span', 'anchor');
			anchor.append('Federated call · anchored at ', element('strong', '', snapshot.anchorDomain ?? '?'));
			parts.push(anchor);
		} else {
			parts.push(element('span', 'anchor', snapshot.domain ? 'Not federated · one domain' : 'Not federated'));
		}
		if (snapshot.domain) {
			const own = element('span', 'own-domain');
			own.append('you: ', element('strong', '', snapshot.domain));
			parts.push(own);
		}
		for (const link of snapshot.links) {
			const chip = element('span', 'link-state');
			chip.dataset['domain'] = link.domain;
			chip.dataset['up'] = String(link.up);
			if (link.rttMs !== undefined) chip.dataset['rtt'] = String(link.rttMs);
			const rtt = link.up && link.rttMs !== undefined ? ` · ${link.rttMs < 1 ? '<1' : Math.round(link.rttMs)} ms` : '';
			chip.textContent = `link ${link.domain} ${link.up ? 'up' : 'down'}${rtt}`;
			chip.title = link.up
				? `Media and signalling to ${link.domain} flow`
				: `The link to ${link.domain} is down; it is being re-established`;
			parts.push(chip);
		}
		status.replaceChildren(...parts);
	}

	#renderTiles(tiles: Tile[]): void {
		const keys = new Set(tiles.map((t) => t.key));
		for (const [key, view] of this.#tiles) {
			if (keys.has(key)) continue;
			this.#resize.unobserve(view.element);
			view.element.remove();
			this.#tiles.delete(key);
		}
		const pinned = tiles.find((t) => t.pinned);
		byId('call-screen').classList.toggle('pinning', pinned !== undefined);
		let index = 0;
		for (const tile of tiles) {
			let view = this.#tiles.get(tile.key);
			if (!view) {
				const key = tile.key;
				view = new TileView(key, () => this.#togglePin(key));
				this.#tiles.set(key, view);
				this.#resize.observe(view.element);
			}
			const track = tile.local
				? this.#call.localTrack('camera')
				: tile.videoProducerId
					? this.#call.remoteTrack(tile.videoProducerId)
					: undefined;
			view.update(tile, track);
			// The snapshot's order, moving only nodes that are out of place (a move pauses the video).
			const parent = tile === pinned ? this.#stage : this.#grid;
			const position = tile === pinned ? 0 : index++;
			if (parent.children[position] !== view.element) {
				parent.insertBefore(view.element, parent.children[position] ?? null);
				view.resumeVideo();
			}
		}
		this.#layoutGrid();
		this.#sizesChanged();
	}

	/** Columns and tile size that show the grid's tiles largest in the space there is. */
	#layoutGrid(): void {
		const style = this.#grid.style;
		if (this.#stage.childElementCount > 0) {
			for (const property of ['--columns', '--tile-width', '--tile-height']) style.removeProperty(property);
			return;
		}
		const gap = 8;
		const fit = fitGrid(this.#grid.childElementCount, this.#grid.clientWidth - 2 * gap, this.#grid.clientHeight - 2 * gap, gap);
		style.setProperty('--columns', String(fit.columns));
		style.setProperty('--tile-width', `${fit.tileWidth}px`);
		style.setProperty('--tile-height', `${fit.tileHeight}px`);
	}

	/** One playing element per remote audio stream (the SFT forwards only the loudest). */
	#renderAudio(): void {
		const tracks = this.#call.remoteTracks.filter((t) => t.kind === 'audio');
		const wanted = new Set(tracks.map((t) => t.producerId));
		for (const [producerId, audio] of this.#audio) {
			if (wanted.has(producerId)) continue;
			audio.srcObject = null;
			audio.remove();
			this.#audio.delete(producerId);
		}
		for (const { producerId, track } of tracks) {
			if (this.#audio.has(producerId)) continue;
			const audio = element('audio');
			audio.autoplay = true;
			audio.hidden = true;
			audio.srcObject = new MediaStream([track]);
			document.body.append(audio);
			void audio.play().catch(() => undefined);
			this.#audio.set(producerId, audio);
		}
	}

	#renderControls(): void {
		const snapshot = this.#call.snapshot;
		const local = snapshot.tiles.find((t) => t.local);
		const mic = byId<HTMLButtonElement>('mic-button');
		const camera = byId<HTMLButtonElement>('camera-button');
		const screen = byId<HTMLButtonElement>('screen-button');
		const micMuted = this.#call.producerId('mic') === undefined || local?.audioMuted === true;
		mic.setAttribute('aria-pressed', String(micMuted));
		mic.textContent = micMuted ? 'Unmute' : 'Mute';
		mic.disabled = this.#call.producerId('mic') === undefined;
		const cameraOff = this.#call.producerId('camera') === undefined || local?.videoOff === true;
		camera.setAttribute('aria-pressed', String(cameraOff));
		camera.textContent = cameraOff ? 'Start video' : 'Stop video';
		camera.disabled = this.#call.producerId('camera') === undefined;
		const sharing = this.#call.producerId('screen') !== undefined;
		screen.setAttribute('aria-pressed', String(sharing));
		screen.textContent = sharing ? 'Stop sharing' : 'Share screen';
		byId<HTMLButtonElement>('invite-button').disabled = snapshot.descriptor === undefined;
	}

	#togglePin(key: string): void {
		this.#call.pin(this.#call.snapshot.tiles.find((t) => t.key === key)?.pinned ? undefined : key);
	}

	/** Tells the SDK the size each tile is drawn at (device pixels), after layout settles. */
	#sizesChanged(): void {
		clearTimeout(this.#sizeTimer);
		this.#sizeTimer = setTimeout(() => {
			if (this.#closed) return;
			const ratio = window.devicePixelRatio || 1;
			const sizes = new Map<string, TileSize>();
			for (const [key, view] of this.#tiles) {
				const { width, height } = view.element.getBoundingClientRect();
				sizes.set(key, { width: Math.round(width * ratio), height: Math.round(height * ratio) });
			}
			this.#call.setTileSizes(sizes);
		}, SIZE_DEBOUNCE_MS);
	}

	#bindControls(): void {
		const on = (id: string, action: () => Promise<void> | void) => {
			const button = byId<HTMLButtonElement>(id);
			const handler = () => {
				void Promise.resolve(action()).catch((error: unknown) => this.#options.notify(String((error as Error).message ?? error)));
			};
			button.addEventListener('click', handler);
			this.#off.push(() => button.removeEventListener('click', handler));
		};
		on('mic-button', () => this.#call.setMuted('mic', this.#call.snapshot.tiles.find((t) => t.local)?.audioMuted !== true));
		on('camera-button', () => this.#call.setMuted('camera', this.#call.snapshot.tiles.find((t) => t.local)?.videoOff !== true));
		on('screen-button', () => this.#toggleScreen());
		on('invite-button', () => this.#openInvite());
		on('debug-button', () => this.#toggleDebug());
		on('leave-button', () => this.#options.onLeave());
	}

	async #toggleScreen(): Promise<void> {
		if (this.#call.producerId('screen')) {
			const track = this.#call.localTrack('screen');
			await this.#call.unpublish('screen');
			track?.stop();
			return;
		}
		let track: MediaStreamTrack;
		try {
			track = await openScreen();
		} catch (error) {
			if ((error as { name?: string }).name !== 'NotAllowedError') this.#options.notify(describeMediaError(error));
			return;
		}
		// The browser's own "stop sharing" button ends the track.
		track.addEventListener('ended', () => void this.#call.unpublish('screen'));
		await this.#call.publish('screen', track);
	}

	#openInvite(): void {
		const descriptor = this.#call.descriptor;
		if (!descriptor) return;
		const dialog = byId<HTMLDialogElement>('invite-dialog');
		const input = byId<HTMLInputElement>('invite-link');
		input.value = inviteLink(location.origin, descriptor);
		const copy = byId<HTMLButtonElement>('invite-copy');
		copy.onclick = () => {
			input.select();
			void navigator.clipboard?.writeText(input.value).then(
				() => {
					copy.textContent = 'Copied';
				},
				() => undefined,
			);
		};
		byId<HTMLButtonElement>('invite-close').onclick = () => dialog.close();
		copy.textContent = 'Copy link';
		dialog.showModal();
		input.select();
	}

	#toggleDebug(): void {
		const button = byId('debug-button');
		if (this.#debugTimer !== undefined) {
			clearInterval(this.#debugTimer);
			this.#debugTimer = undefined;
			button.setAttribute('aria-pressed', 'false');
			for (const view of this.#tiles.values()) view.showDebug(undefined);
			return;
		}
		button.setAttribute('aria-pressed', 'true');
		const poll = () => void this.#pollDebug();
		poll();
		this.#debugTimer = setInterval(poll, DEBUG_INTERVAL_MS);
	}

	async #pollDebug(): Promise<void> {
		for (const tile of this.#call.snapshot.tiles) {
			const view = this.#tiles.get(tile.key);
			if (!view || tile.local) continue;
			const [video, audio] = await Promise.all([
				tile.videoProducerId ? this.#call.receiveStats(tile.videoProducerId) : undefined,
				tile.audioProducerId ? this.#call.receiveStats(tile.audioProducerId) : undefined,
			]);
			if (this.#debugTimer === undefined) return;
			view.showDebug({ video, audio, layers: tile.layers });
		}
	}
}
