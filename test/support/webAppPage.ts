// The web app (client/web) in a real Chromium page, driven the way a person
// uses it: form fields, clicks, what the page shows. Figures a person would
// see in the debug overlay (from getStats) are read from the tile's data
// attributes; decoded sizes from the <video> element.
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { openPage } from './browserCaller.ts';

export interface JoinForm {
	name: string;
	conference?: string;
	token?: string;
	invite?: string;
}

/** What a tile shows, read from the page. */
export interface TileReading {
	key: string;
	domain: string;
	foreign: boolean;
	local: boolean;
	badge: string;
	badgeForeign: boolean;
	name: string;
	muted: boolean;
	speaking: boolean;
	pinned: boolean;
	videoWidth: number;
	frameWidth: number;
	framesDecoded: number;
	audioLevel: number;
	audioPackets: number;
}

export interface LayoutProblem {
	what: string;
	detail: string;
}

export class WebAppPage {
	readonly name: string;
	readonly page: Page;
	readonly #context: BrowserContext;
	/** Uncaught errors and console errors in the page. */
	readonly problems: string[];

	private constructor(name: string, context: BrowserContext, page: Page, problems: string[]) {
		this.name = name;
		this.#context = context;
		this.page = page;
		this.problems = problems;
	}

	/** A new window (its own browser context) on `url`, with camera and microphone allowed. */
	static async open(browser: Browser, url: string, name: string, viewport = { width: 1280, height: 800 }): Promise<WebAppPage> {
		const problems: string[] = [];
		const { context, page } = await openPage(browser, url, problems, { viewport, consoleTypes: ['error'] });
		await page.locator('#join-form').waitFor({ timeout: 15_000 });
		return new WebAppPage(name, context, page, problems);
	}

	async fillJoinForm(form: JoinForm): Promise<void> {
		const p = this.page;
		await p.fill('#join-name', form.name);
		if (form.invite !== undefined) await p.fill('#join-invite', form.invite);
		if (form.conference !== undefined) await p.fill('#join-conference', form.conference);
		await p.fill('#join-token', form.token ?? '');
	}

	/** Fills the join form, clicks Join and waits for the call screen. */
	async join(form: JoinForm): Promise<void> {
		await this.fillJoinForm(form);
		await this.page.click('#join-button');
		try {
			await this.page.locator('#call-screen').waitFor({ state: 'visible', timeout: 30_000 });
		} catch (error) {
			throw new Error(
				`${this.name}: not in the call: "${await this.joinStatus()}" ${this.problems.join(' | ')}: ${(error as Error).message}`,
			);
		}
	}

	joinStatus(): Promise<string> {
		return this.page
			.locator('#join-status')
			.textContent()
			.then((t) => t ?? '');
	}

	click(selector: string): Promise<void> {
		return this.page.click(selector);
	}

	/** Clicks Invite and reads the link from the dialog (then closes it). */
	async inviteLink(): Promise<string> {
		await this.page.click('#invite-button');
		const link = await this.page.locator('#invite-link').inputValue();
		await this.page.click('#invite-close');
		return link;
	}

	/** The federation header, read in one go so text and chips describe the same render. */
	header(): Promise<{ text: string; federated: string; anchor: string; links: { domain: string; up: string; rtt: string }[] }> {
		return this.page.locator('#federation-status').evaluate((status) => ({
			text: status.textContent ?? '',
			federated: (status as HTMLElement).dataset['federated'] ?? '',
			anchor: (status as HTMLElement).dataset['anchor'] ?? '',
			links: Array.from(status.querySelectorAll('.link-state'), (c) => ({
				domain: (c as HTMLElement).dataset['domain'] ?? '',
				up: (c as HTMLElement).dataset['up'] ?? '',
				rtt: (c as HTMLElement).dataset['rtt'] ?? '',
			})),
		}));
	}

	/** Every tile on screen, as a person (and the debug overlay) sees it. */
	tiles(): Promise<TileReading[]> {
		return this.page.locator('#stage .tile, #tiles .tile').evaluateAll((nodes) =>
			nodes.map((node) => {
				const tile = node as HTMLElement;
				const d = tile.dataset;
				const badge = tile.querySelector('.badge') as HTMLElement | null;
				const muted = tile.querySelector('.muted-icon') as HTMLElement | null;
				const video = tile.querySelector('video');
				return {
					key: d['key'] ?? '',
					domain: d['domain'] ?? '',
					foreign: d['foreign'] === 'true',
					local: d['local'] === 'true',
					badge: badge && !badge.hidden ? (badge.textContent ?? '') : '',
					badgeForeign: badge?.classList.contains('foreign') ?? false,
					name: tile.querySelector('.name')?.textContent ?? '',
					muted: muted ? !muted.hidden : false,
					speaking: tile.classList.contains('speaking'),
					pinned: tile.classList.contains('pinned'),
					videoWidth: video?.videoWidth ?? 0,
					frameWidth: Number(d['frameWidth'] ?? 0),
					framesDecoded: Number(d['framesDecoded'] ?? 0),
					audioLevel: Number(d['audioLevel'] ?? 0),
					audioPackets: Number(d['audioPackets'] ?? 0),
				};
			}),
		);
	}

	/** The remote camera tile of the participant whose tile shows `name`. */
	async remoteTile(name: string): Promise<TileReading | undefined> {
		return (await this.tiles()).find((t) => !t.local && t.name === name);
	}

	tileLocator(key: string): Locator {
		return this.page.locator(`.tile[data-key="${key}"]`);
	}

	async setViewport(width: number, height: number): Promise<void> {
		await this.page.setViewportSize({ width, height });
	}

	async screenshot(path: string): Promise<void> {
		await this.page.screenshot({ path, fullPage: false });
	}

	/**
	 * What a person would find wrong with the layout: a horizontal scrollbar,
	 * tiles wider than the window or not visible at all, controls or the
	 * header outside the window.
	 */
	layoutProblems(): Promise<LayoutProblem[]> {
		// No helper functions inside: the page runs this text as it is (tsx would add its own helpers to named ones).
		return this.page.evaluate(() => {
			const problems: { what: string; detail: string }[] = [];
			const vw = window.innerWidth;
			const vh = window.innerHeight;
			const root = document.documentElement;
			if (root.scrollWidth > vw)
				problems.push({ what: 'horizontal overflow', detail: `page ${root.scrollWidth} px wide in a ${vw} px window` });
			const tiles = Array.from(document.querySelectorAll<HTMLElement>('#stage .tile, #tiles .tile'));
			if (tiles.length === 0) problems.push({ what: 'no tiles', detail: '' });
			for (const tile of tiles) {
				const r = tile.getBoundingClientRect();
				if (r.width < 100 || r.height < 56)
					problems.push({ what: 'tile too small', detail: `${tile.dataset['key']}: ${r.width}×${r.height}` });
				// A strip of thumbnails may scroll sideways; a tile wider than the window is never seen whole.
				if (r.width > vw + 0.5) problems.push({ what: 'tile wider than the window', detail: `${tile.dataset['key']}: ${r.width}` });
				// With few tiles (as here) every one fits in the window without scrolling.
				if (r.top < -0.5 || r.bottom > vh + 0.5)
					problems.push({ what: 'tile not fully visible', detail: `${tile.dataset['key']}: ${r.top}…${r.bottom}` });
			}
			const boxes = Array.from(document.querySelectorAll<HTMLElement>('.controls button, .call-header')).map((node) => ({
				id: node.id || node.className,
				r: node.getBoundingClientRect(),
				cut: node.tagName === 'BUTTON' && node.scrollWidth > node.clientWidth + 1,
				button: node.tagName === 'BUTTON',
			}));
			for (const { id, r, cut, button } of boxes) {
				if (r.left < -0.5 || r.right > vw + 0.5 || r.top < -0.5 || r.bottom > vh + 0.5)
					problems.push({
						what: 'outside the window',
						detail: `${id}: ${Math.round(r.left)},${Math.round(r.top)} ${Math.round(r.width)}×${Math.round(r.height)}`,
					});
				if (button && (r.width < 32 || r.height < 32))
					problems.push({ what: 'control too small to tap', detail: `${id}: ${r.width}×${r.height}` });
				if (cut) problems.push({ what: 'control label cut off', detail: id });
			}
			return problems;
		});
	}

	async close(): Promise<void> {
		await this.#context.close().catch(() => undefined);
	}
}
