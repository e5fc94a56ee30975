// The web app's pure parts: invite links, the page URL (never the token),
// the grid layout, and a sentence for every error code the protocol has.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describedEndReasons, describedErrorCodes, describeEnd, describeError } from '../client/messages.ts';
import { fitGrid } from '../client/web/gridLayout.ts';
import { encodeDescriptor, inviteLink, parseInvite } from '../client/web/invite.ts';
import { fragmentWithoutToken, readFragment } from '../client/web/pageUrl.ts';
import { SIGNALLING_ERROR_CODES } from '../signalling/client/errors.ts';

const descriptor = {
	conferenceId: 'standup',
	anchorDomain: 'a.example',
	createdAt: '2026-11-25T06:00:00.000Z',
	federationEndpoint: { host: 'sft.a.example', port: 9443 },
};

test('an invite link carries the descriptor in its fragment and reads back from the link, the fragment or the value', () => {
	const link = inviteLink('https://sft.a.example:8443', descriptor);
	assert.match(link, /^https:\/\/sft\.a\.example:8443\/#invite=[A-Za-z0-9_-]+$/);
	const value = encodeDescriptor(descriptor);
	for (const text of [link, ` ${link} `, `#invite=${value}`, value, `https://sft.b.example/#conference=x&invite=${value}`]) {
		assert.equal(parseInvite(text), descriptor, text);
	}
	const unicode = { ...descriptor, conferenceId: 'réunion-☕' };
	assert.equal(parseInvite(inviteLink('https://x', unicode)), unicode);
});

test('malformed invites are refused', () => {
	for (const text of [
		'',
		'https://sft.a.example/',
		'#invite=!!!',
		'bm90IGpzb24',
		encodeDescriptorOf({ conferenceId: 'x' }),
		encodeDescriptorOf([1, 2]),
	]) {
		assert.is(parseInvite(text), undefined, text);
	}
	// Unknown fields are dropped; a bad endpoint is left out.
	assert.equal(parseInvite(encodeDescriptorOf({ ...descriptor, federationEndpoint: { host: 1 }, extra: 'x' })), {
		conferenceId: 'standup',
		anchorDomain: 'a.example',
		createdAt: '2026-11-25T06:00:00.000Z',
	});
});

function encodeDescriptorOf(value: unknown): string {
	return Buffer.from(JSON.stringify(value)).toString('base64url');
}

test('the page URL: the token is read from the fragment but never written back', () => {
	const params = readFragment('#conference=standup&token=secret.mac&invite=abc&name=Al');
	assert.equal(params, { conference: 'standup', token: 'secret.mac', invite: 'abc', name: 'Al' });
	const kept = fragmentWithoutToken(params);
	assert.is(kept, '#conference=standup&invite=abc');
	assert.not.match(kept, /secret/);
	assert.is(fragmentWithoutToken({ token: 't' }), '');
});

test('the grid shows tiles as large as the space allows', () => {
	assert.equal(fitGrid(1, 1264, 690, 8), { columns: 1, tileWidth: 1226, tileHeight: 690 });
	const two = fitGrid(2, 1264, 690, 8);
	assert.is(two.columns, 2, 'two tiles side by side in a wide window');
	const phone = fitGrid(2, 374, 650, 8);
	assert.is(phone.columns, 1, 'one column on a phone');
	assert.ok(phone.tileWidth <= 374 && phone.tileHeight * 2 + 8 <= 650);
	for (const count of [1, 2, 3, 5, 9, 12]) {
		const fit = fitGrid(count, 1264, 690, 8);
		const rows = Math.ceil(count / fit.columns);
		assert.ok(fit.columns * fit.tileWidth + (fit.columns - 1) * 8 <= 1264, `${count} tiles fit the width`);
		assert.ok(rows * fit.tileHeight + (rows - 1) * 8 <= 690, `${count} tiles fit the height`);
	}
	const many = fitGrid(40, 374, 300, 8);
	assert.ok(many.tileWidth >= 160, 'too many to fit: the grid scrolls rather than shrinking tiles to nothing');
});

test("every error code of the protocol (README and the server's list) and every end reason has its own sentence", () => {
	const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
	const paragraph = /Error codes: ([\s\S]*?)\n\n/.exec(readme)?.[1] ?? '';
	const codes = [...paragraph.matchAll(/`([a-z_]+)`/g)].map((m) => m[1] as string);
	assert.ok(codes.length >= 20, `found the README's error codes (${codes.length})`);
	for (const code of new Set([...codes, ...SIGNALLING_ERROR_CODES])) {
		assert.ok(describedErrorCodes.includes(code), `a sentence for ${code}`);
		assert.not.match(describeError(code), new RegExp(code), `${code}: a sentence, not the code`);
	}
	const reasons = [...(/`conferenceEnded \{ reason \}` \(([^)]*)\)/.exec(readme)?.[1] ?? '').matchAll(/`([a-z_]+)`/g)].map(
		(m) => m[1] as string,
	);
	assert.ok(reasons.length >= 4, `found the README's end reasons (${reasons.length})`);
	for (const reason of reasons) assert.ok(describedEndReasons.includes(reason), `a sentence for the end reason ${reason}`);
	assert.match(describeEnd('something_new'), /something_new/);
	assert.match(describeError('something_new'), /something_new/);
});

test.run();
