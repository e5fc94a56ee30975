import type { Tile } from '../state/CallState.ts';
import type { ReceiveStats } from '../stats.ts';
import { element } from './dom.ts';

/** What the debug overlay shows for a tile. */
export interface TileDebug {
	video: ReceiveStats | undefined;
	audio: ReceiveStats | undefined;
	layers: Tile['layers'];
}

/**
 * One tile of the grid: the video (or the name when there is none), the
 * name, the domain badge (distinct for other domains), mute state, the
 * active-speaker border and, when switched on, the debug overlay.
 */
export class TileView {
	readonly element: HTMLDivElement;
	readonly #video = element('video');
	readonly #avatar = element('div', 'avatar');
	readonly #name = element('span', 'name');
	readonly #badge = element('span', 'badge');
	readonly #muted = element('span', 'muted-icon', 'muted');
	readonly #pinHint = element('span', 'pin-hint');
	readonly #debug = element('div', 'debug');
	#track: MediaStreamTrack | undefined;

	constructor(key: string, onClick: () => void) {
		this.element = element('div', 'tile');
		this.element.dataset['key'] = key;
		this.element.tabIndex = 0;
		this.element.setAttribute('role', 'button');
		this.#video.autoplay = true;
		this.#video.playsInline = true;
		// Sound plays through the call's audio elements, never twice.
		this.#video.muted = true;
		this.#debug.hidden = true;
		const label = element('div', 'label');
		label.append(this.#name, this.#badge, this.#muted);
		this.element.append(this.#video, this.#avatar, label, this.#pinHint, this.#debug);
		this.element.addEventListener('click', onClick);
		this.element.addEventListener('keydown', (event) => {
			if (event.key === 'Enter' || event.key === ' ') {
				event.preventDefault();
				onClick();
			}
		});
	}

	get video(): HTMLVideoElement {
		return this.#video;
	}

	update(tile: Tile, track: MediaStreamTrack | undefined): void {
		const e = this.element;
		e.dataset['participant'] = tile.participantId;
		e.dataset['domain'] = tile.domain ?? '';
		e.dataset['foreign'] = String(tile.foreign);
		e.dataset['local'] = String(tile.local);
		e.dataset['source'] = tile.source;
		e.dataset['producer'] = tile.videoProducerId ?? '';
		e.classList.toggle('speaking', tile.speaking);
		e.classList.toggle('pinned', tile.pinned);
		e.classList.toggle('video-off', tile.videoOff || !track);
		const who = tile.local ? `${tile.displayName || 'You'} (you)` : tile.displayName || tile.userId;
		this.#name.textContent = tile.source === 'screen' ? `${who}: screen` : who;
		this.#avatar.textContent = (tile.displayName || tile.userId || '?').slice(0, 1).toUpperCase();
		this.#badge.hidden = tile.domain === undefined;
		this.#badge.textContent = tile.domain ?? '';
		this.#badge.className = tile.foreign ? 'badge foreign' : 'badge home';
		this.#badge.title = tile.foreign ? `From another domain: ${tile.domain}` : `From this domain: ${tile.domain}`;
		this.#muted.hidden = !tile.audioMuted || tile.source === 'screen';
		this.#pinHint.textContent = tile.pinned ? 'pinned · click to unpin' : '';
		this.#pinHint.hidden = !tile.pinned;
		e.setAttribute('aria-label', `${this.#name.textContent}${tile.domain ? ` from ${tile.domain}` : ''}${tile.pinned ? ', pinned' : ''}`);
		if (track !== this.#track) {
			this.#track = track;
			this.#video.srcObject = track ? new MediaStream([track]) : null;
			if (track) void this.#video.play().catch(() => undefined);
		}
	}

	/** Plays again after the tile moved in the page (a media element pauses when it leaves the document). */
	resumeVideo(): void {
		if (this.#track && this.#video.paused) void this.#video.play().catch(() => undefined);
	}

	/** Shows (or hides, with undefined) the debug overlay; the figures are also data attributes, for tests and tooling. */
	showDebug(debug: TileDebug | undefined): void {
		this.#debug.hidden = debug === undefined;
		if (!debug) return;
		const { video, audio, layers } = debug;
		const d = this.element.dataset;
		const lines: string[] = [];
		if (video) {
			d['frameWidth'] = String(video.frameWidth);
			d['framesDecoded'] = String(video.framesDecoded);
			d['bitrate'] = String(Math.round(video.bitrate));
			d['loss'] = video.lossRatio.toFixed(4);
			lines.push(
				`${video.frameWidth}×${video.frameHeight} ${video.framesPerSecond.toFixed(0)} fps`,
				`${formatBitrate(video.bitrate)} · loss ${(video.lossRatio * 100).toFixed(1)} %`,
			);
		}
		if (layers) {
			d['spatialLayer'] = String(layers.spatialLayer ?? '');
			lines.push(`layer S${layers.spatialLayer ?? '-'} T${layers.temporalLayer ?? '-'}`);
		}
		if (audio) {
			d['audioLevel'] = audio.audioLevel.toFixed(4);
			d['audioPackets'] = String(audio.packetsReceived);
			lines.push(`audio ${formatBitrate(audio.bitrate)} · level ${audio.audioLevel.toFixed(2)}`);
		}
		this.#debug.textContent = lines.length ? lines.join('\n') : 'no media received';
	}
}

function formatBitrate(bps: number): string {
	return bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mb/s` : `${Math.round(bps / 1e3)} kb/s`;
}
