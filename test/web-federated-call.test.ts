// The web app as people use it, across two domains: two SFT processes
// (a.test, b.test) in their own network namespaces, each serving the web app
// at `/`, and Debian's Chromium in a third namespace with two windows, alice
// on a.test's page and bob on b.test's. Everything is done through the page:
// form fields, clicks, and what the page shows (the debug overlay's figures
// come from getStats). Screenshots of both windows go to test-artifacts/.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createCertificateAuthority, type IssuedCredentials } from '../certs/index.ts';
import { describeError } from '../client/messages.ts';
import { buildWebApp } from '../scripts/build-web.ts';
import { type BrowserHandle, browserTestUnavailable, launchChromiumIn, makeWorkDir, pollUntil } from './support/browserCaller.ts';
import { NetnsHosts } from './support/netnsHosts.ts';
import { SftProcess, stopSfts } from './support/sftProcess.ts';
import { step as declareStep } from './support/steps.ts';
import { type TileReading, WebAppPage } from './support/webAppPage.ts';

const TOKEN_SECRET = 'web-federated-call-secret-0123456789';
const CONFERENCE = 'web-fedcall';
const ARTIFACTS = join(import.meta.dirname, '..', 'test-artifacts');
/** The 1280 px layer starts after the sender's bandwidth estimate has ramped up (~6 s), later on a busy machine. */
const LAYER_TIMEOUT_MS = 60_000;
const MEDIA_TIMEOUT_MS = 40_000;

const started = Date.now();
const unavailable = (await browserTestUnavailable()) ?? NetnsHosts.unavailableReason();
const test = suite('the web app across two domains');
let hosts: NetnsHosts | undefined;
let chromium: BrowserHandle | undefined;
let work: Awaited<ReturnType<typeof makeWorkDir>> | undefined;
let setupError: unknown;
let failed = false;
const dir = mkdtempSync(join(tmpdir(), 'sft-web-'));
const sfts = new Map<'a.test' | 'b.test', SftProcess>();
let alice: WebAppPage | undefined;
let bob: WebAppPage | undefined;

const watchdog = setTimeout(() => {
	console.error(`web-federated-call.test.ts: still running after ${((Date.now() - started) / 1000).toFixed(0)} s; giving up`);
	hosts?.destroy();
	process.exit(1);
}, 280_000);
watchdog.unref();

test.before(async () => {
	if (unavailable) return;
	try {
		await buildWebApp();
		hosts = NetnsHosts.create(3);
		const h = hosts;
		const cas = new Map<string, IssuedCredentials>();
		for (const domain of ['a.test', 'b.test']) cas.set(domain, await createCertificateAuthority({ commonName: `${domain} CA`, days: 2 }));
		const trustBundlePem = [...cas.values()].map((ca) => ca.certificatePem).join('\n');
		await Promise.all(
			(['a.test', 'b.test'] as const).map(async (domain, i) => {
				const partner = domain === 'a.test' ? 'b.test' : 'a.test';
				const sft = await SftProcess.start({
					hosts: h,
					host: h.host(i),
					domain,
					ca: cas.get(domain) as IssuedCredentials,
					trustBundlePem,
					allowList: [partner],
					// Static peers: an SFT dials only configured endpoints (or DNS SRV), never a client's descriptor.
					peers: { [partner]: { host: h.host(i === 0 ? 1 : 0).address, port: 9443 } },
					tokenSecret: TOKEN_SECRET,
					dir,
				});
				sfts.set(domain, sft);
			}),
		);
		// No IPv6 where Chromium runs: an address finishing DAD later is a "network change" that aborts navigations.
		h.exec(h.host(2), 'sh', ['-c', 'for f in all default; do echo 1 > /proc/sys/net/ipv6/conf/$f/disable_ipv6; done 2>/dev/null || true']);
		work = await makeWorkDir();
		chromium = await launchChromiumIn({ namespace: h.host(2).namespace }, work.dir);
		mkdirSync(ARTIFACTS, { recursive: true });
		console.log(
			`  setup ${((Date.now() - started) / 1000).toFixed(1)} s: a.test ${sft('a.test').clientUrl}, b.test ${sft('b.test').clientUrl}`,
		);
	} catch (error) {
		setupError = error;
		failed = true;
	}
});

test.after(async () => {
	for (const page of [alice, bob]) await page?.close();
	await chromium?.close();
	await stopSfts(sfts.values(), dir, failed);
	await work?.remove();
	hosts?.destroy();
	console.log(`  web-federated-call: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
	setTimeout(() => process.exit(), 2000).unref();
});

function sft(domain: 'a.test' | 'b.test'): SftProcess {
	const s = sfts.get(domain);
	if (!s) throw new Error(`no SFT for ${domain}`);
	return s;
}

function pages(): { alice: WebAppPage; bob: WebAppPage } {
	if (!alice || !bob) throw new Error('an earlier step did not get both people into the call');
	return { alice, bob };
}

async function context(): Promise<string> {
	const parts: string[] = [];
	for (const page of [alice, bob]) {
		if (!page) continue;
		parts.push(
			`[${page.name}] tiles ${JSON.stringify(await page.tiles().catch(() => []))} problems ${JSON.stringify(page.problems.slice(-10))}`,
		);
	}
	return parts.join(' ');
}

/** A test that prints the SFTs' logs when it fails, and is skipped without Chromium or network namespaces. */
function step(name: string, body: () => Promise<void>): void {
	const onFailure = () => {
		failed = true;
		for (const s of sfts.values()) console.error(`--- ${s.domain} SFT, last lines ---\n${s.logTail(15)}`);
	};
	declareStep(test, { unavailable, setupError: () => setupError, onFailure }, name, body);
}

const remote = (tiles: TileReading[], name: string) => tiles.find((t) => !t.local && t.name === name);

step('alice joins on a.test’s page; bob, on b.test’s page, is told he needs a token, then joins with the invite link', async () => {
	const browser = chromium?.browser;
	if (!browser) throw new Error('no browser');
	alice = await WebAppPage.open(browser, `${sft('a.test').clientUrl}/`, 'alice');
	await alice.join({ name: 'Alice', conference: CONFERENCE, token: sft('a.test').token('alice', CONFERENCE, 'start') });
	const invite = await alice.inviteLink();
	assert.match(
		invite,
		new RegExp(`^${sft('a.test').clientUrl}/#invite=[A-Za-z0-9_-]+$`),
		'the invite is a link with the descriptor in its fragment',
	);

	// Bob opens his own SFT's page (another machine: no development token for him).
	bob = await WebAppPage.open(browser, `${sft('b.test').clientUrl}/`, 'bob');
	await bob.fillJoinForm({ name: 'Bob', invite });
	assert.is(await bob.page.inputValue('#join-conference'), CONFERENCE, 'the invite fills in the conference');
	assert.match((await bob.page.textContent('#invite-note')) ?? '', /hosted by a\.test/);
	await bob.click('#join-button');
	await pollUntil(
		() => bob!.joinStatus(),
		(s) => s === describeError('token_missing'),
		'the token message',
		10_000,
	);
	await bob.join({ name: 'Bob', invite, token: sft('b.test').token('bob', CONFERENCE, 'join') });
	assert.not.match(bob.page.url(), /token=/, 'the token never stays in the address bar');
});

step('both windows decode the other’s video (framesDecoded from getStats grows)', async () => {
	const { alice, bob } = pages();
	await alice.click('#debug-button');
	await bob.click('#debug-button');
	const decoding = async (page: WebAppPage, name: string) => {
		const first = await pollUntil(
			async () => remote(await page.tiles(), name),
			(t) => (t?.framesDecoded ?? 0) > 10,
			`${page.name} to decode ${name}'s video`,
			MEDIA_TIMEOUT_MS,
			context,
		);
		const later = await pollUntil(
			async () => remote(await page.tiles(), name),
			(t) => (t?.framesDecoded ?? 0) > (first?.framesDecoded ?? 0) + 20,
			`${page.name}: ${name}'s frames to keep coming`,
			15_000,
			context,
		);
		return later;
	};
	const [atAlice, atBob] = await Promise.all([decoding(alice, 'Bob'), decoding(bob, 'Alice')]);
	console.log(`  alice decoded ${atAlice?.framesDecoded} frames of bob, bob ${atBob?.framesDecoded} of alice`);
	assert.ok((atAlice?.videoWidth ?? 0) > 0 && (atBob?.videoWidth ?? 0) > 0, 'the video elements show the decoded video');
});

step('every tile shows its participant’s domain; the other domain’s carries the distinct badge', async () => {
	const { alice, bob } = pages();
	for (const [page, own, other, otherName] of [
		[alice, 'a.test', 'b.test', 'Bob'],
		[bob, 'b.test', 'a.test', 'Alice'],
	] as const) {
		const tiles = await page.tiles();
		const self = tiles.find((t) => t.local);
		const them = remote(tiles, otherName);
		assert.is(tiles.length, 2, `${page.name} shows two tiles: ${JSON.stringify(tiles.map((t) => t.name))}`);
		assert.equal([self?.badge, self?.badgeForeign], [own, false], `${page.name}'s own tile: home badge ${own}`);
		assert.equal(
			[them?.badge, them?.badgeForeign],
			[other, true],
			`${page.name}: ${otherName}'s tile carries the other-domain badge ${other}`,
		);
	}
});

step('the header says the call is federated, anchored at a.test, with the link up', async () => {
	const { alice, bob } = pages();
	for (const [page, partner] of [
		[alice, 'b.test'],
		[bob, 'a.test'],
	] as const) {
		const header = await pollUntil(
			() => page.header(),
			(h) => h.links.some((l) => l.domain === partner && l.up === 'true'),
			`${page.name}: a link to ${partner} that is up`,
			10_000,
		);
		assert.is(header.federated, 'true');
		assert.is(header.anchor, 'a.test');
		assert.match(header.text, /Federated call · anchored at a\.test/);
		assert.match(header.text, new RegExp(`link ${partner.replace('.', '\\.')} up`));
	}
});

step('pinning alice’s tile on bob’s page raises its decoded width (to the 1280 px layer)', async () => {
	const { bob } = pages();
	const before = await pollUntil(
		async () => remote(await bob.tiles(), 'Alice'),
		(t) => (t?.frameWidth ?? 0) > 0,
		"bob's decoded width of alice's camera",
		MEDIA_TIMEOUT_MS,
		context,
	);
	const tile = before as TileReading;
	console.log(`  unpinned: alice's tile decoded at ${tile.frameWidth} px`);
	assert.ok(tile.frameWidth < 1280, `an unpinned tile of a 4-column grid gets a smaller layer (${tile.frameWidth} px)`);
	await bob.tileLocator(tile.key).click();
	const pinned = await pollUntil(
		async () => remote(await bob.tiles(), 'Alice'),
		(t) => t?.pinned === true && (t?.frameWidth ?? 0) >= 1280,
		"bob's pinned tile of alice to decode the 1280 px layer",
		LAYER_TIMEOUT_MS,
		context,
	);
	console.log(`  pinned: ${pinned?.frameWidth} px (video element ${pinned?.videoWidth} px)`);
	assert.ok((pinned?.frameWidth ?? 0) > tile.frameWidth);
});

step('alice shares her screen: bob gets a screen tile from a.test', async () => {
	const { alice, bob } = pages();
	await alice.click('#screen-button');
	const screen = await pollUntil(
		async () => (await bob.tiles()).find((t) => t.key.startsWith('screen:')),
		(t) => t !== undefined && t.videoWidth > 0,
		"alice's screen share at bob",
		MEDIA_TIMEOUT_MS,
		context,
	);
	assert.equal([screen?.badge, screen?.badgeForeign], ['a.test', true]);
	assert.match(screen?.name ?? '', /Alice: screen/);
	await alice.click('#screen-button');
	await pollUntil(
		async () => (await bob.tiles()).some((t) => t.key.startsWith('screen:')),
		(shown) => !shown,
		'the screen tile to go when alice stops sharing',
		15_000,
		context,
	);
});

step('layout at 1280×800 and 390×844: screenshots of both windows; tiles visible, nothing overflows, controls reachable', async () => {
	const { alice, bob } = pages();
	for (const [width, height] of [
		[1280, 800],
		[390, 844],
	] as const) {
		for (const page of [alice, bob]) {
			await page.setViewport(width, height);
			await new Promise((resolve) => setTimeout(resolve, 700));
			const path = join(ARTIFACTS, `web-call-${page.name}-${width}x${height}.png`);
			await page.screenshot(path);
			assert.equal(await page.layoutProblems(), [], `${page.name} at ${width}×${height} (${path})`);
		}
	}
	for (const page of [alice, bob]) await page.setViewport(1280, 800);
	console.log(`  screenshots in ${ARTIFACTS}`);
});

step('alice mutes her microphone: her audio level at bob drops to nothing and her tile shows muted', async () => {
	const { alice, bob } = pages();
	// The fake microphone beeps: bob hears some level from alice first.
	const heard = await pollUntil(
		async () => remote(await bob.tiles(), 'Alice'),
		(t) => (t?.audioLevel ?? 0) > 0.01 && (t?.audioPackets ?? 0) > 50,
		"alice's audio at bob",
		MEDIA_TIMEOUT_MS,
		context,
	);
	assert.not.ok(heard?.muted);
	await alice.click('#mic-button');
	assert.is(await alice.page.getAttribute('#mic-button', 'aria-pressed'), 'true');
	const muted = await pollUntil(
		async () => remote(await bob.tiles(), 'Alice'),
		(t) => t?.muted === true && (t?.audioLevel ?? 1) === 0,
		"alice's tile at bob to show muted, with no audio level",
		15_000,
		context,
	);
	const packets = muted?.audioPackets ?? 0;
	await new Promise((resolve) => setTimeout(resolve, 2500));
	const after = remote(await bob.tiles(), 'Alice');
	assert.ok((after?.audioPackets ?? 0) - packets <= 2, `no more audio from alice (${packets} → ${after?.audioPackets})`);
	assert.is(after?.audioLevel, 0);
	await alice.click('#mic-button');
	await pollUntil(
		async () => remote(await bob.tiles(), 'Alice'),
		(t) => t?.muted === false && (t?.audioPackets ?? 0) > (after?.audioPackets ?? 0) + 20,
		"alice's audio to come back after unmuting",
		15_000,
		context,
	);
});

step('bob leaves: his tile disappears from alice’s window', async () => {
	const { alice, bob } = pages();
	await bob.click('#leave-button');
	await bob.page.locator('#ended-screen').waitFor({ state: 'visible', timeout: 10_000 });
	assert.match((await bob.page.textContent('#ended-reason')) ?? '', /You left/);
	await pollUntil(
		async () => remote(await alice.tiles(), 'Bob'),
		(t) => t === undefined,
		"bob's tile to leave alice's window",
		10_000,
		context,
	);
	assert.is((await alice.tiles()).length, 1);
	for (const page of [alice, bob]) assert.equal(page.problems, [], `${page.name}: no errors in the page`);
});

step('bob joins again; when b.test’s SFT dies alice’s header shows the link down and bob’s page says it is reconnecting', async () => {
	const { alice, bob } = pages();
	await bob.click('#rejoin-button');
	// The form kept his name, token and invite.
	await bob.click('#join-button');
	await bob.page.locator('#call-screen').waitFor({ state: 'visible', timeout: 30_000 });
	await pollUntil(
		() => alice.header(),
		(h) => h.links.some((l) => l.domain === 'b.test' && l.up === 'true'),
		"alice's link to b.test up again",
		15_000,
		context,
	);
	sft('b.test').kill('SIGKILL');
	const down = await pollUntil(
		() => alice.header(),
		(h) => h.links.some((l) => l.domain === 'b.test' && l.up === 'false'),
		"alice's header to show the link to b.test down",
		10_000,
		context,
	);
	assert.match(down.text, /link b\.test down/);
	await pollUntil(
		async () => remote(await alice.tiles(), 'Bob'),
		(t) => t === undefined,
		"bob's tile to leave alice's window with his SFT",
		10_000,
		context,
	);
	assert.match((await bob.page.textContent('#connection-state')) ?? '', /Reconnecting/);
	assert.ok(await bob.page.isVisible('#connection-state'), 'bob sees that he is reconnecting');
});

test.run();
