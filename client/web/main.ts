// The web app served by every SFT at `/`: a join screen, the call, and the
// screen after it. It talks only to the SFT that served it (same origin).
import { browserDevice } from '../browser.ts';
import type { Call } from '../Call.ts';
import { describeEnd, describeError } from '../messages.ts';
import type { ConferenceDescriptor } from '../protocol.ts';
import { SftClient } from '../SftClient.ts';
import { RequestError } from '../Signalling.ts';
import { CallView } from './CallView.ts';
import { devTokenAvailable, fetchDevToken } from './devToken.ts';
import { byId } from './dom.ts';
import { encodeDescriptor, parseInvite } from './invite.ts';
import { describeMediaError, openCamera, openMicrophone } from './localMedia.ts';
import { fragmentWithoutToken, readFragment } from './pageUrl.ts';

const NAME_KEY = 'sft-display-name';

const form = byId<HTMLFormElement>('join-form');
const nameInput = byId<HTMLInputElement>('join-name');
const conferenceInput = byId<HTMLInputElement>('join-conference');
const tokenInput = byId<HTMLInputElement>('join-token');
const inviteInput = byId<HTMLInputElement>('join-invite');
const joinButton = byId<HTMLButtonElement>('join-button');
const joinStatus = byId('join-status');

let client: SftClient | undefined;
let view: CallView | undefined;
let localTracks: MediaStreamTrack[] = [];
/** Whether this SFT hands this machine development tokens (asked once, at load). */
let devTokens: Promise<boolean> = Promise.resolve(false);

function notify(message: string): void {
	byId('banner-text').textContent = message;
	byId('banner').hidden = false;
}

byId('banner-close').addEventListener('click', () => {
	byId('banner').hidden = true;
});

function show(screen: 'join' | 'call' | 'ended'): void {
	byId('join-screen').hidden = screen !== 'join';
	byId('call-screen').hidden = screen !== 'call';
	byId('ended-screen').hidden = screen !== 'ended';
}

/** The invite's conference fixes the conference field; a note says where it is hosted. */
function applyInvite(): ConferenceDescriptor | undefined {
	const note = byId('invite-note');
	const raw = inviteInput.value.trim();
	const descriptor = parseInvite(raw);
	conferenceInput.readOnly = descriptor !== undefined;
	if (descriptor) conferenceInput.value = descriptor.conferenceId;
	note.hidden = !raw;
	note.textContent = descriptor
		? `Invited to “${descriptor.conferenceId}”, hosted by ${descriptor.anchorDomain}. If your account is on another domain, open your own server's page and paste the invite there.`
		: raw
			? 'This is not an invite link.'
			: '';
	return descriptor;
}

async function prepareJoinScreen(): Promise<void> {
	const params = readFragment(location.hash);
	nameInput.value = params.name ?? localStorage.getItem(NAME_KEY) ?? '';
	conferenceInput.value = params.conference ?? `room-${Math.random().toString(36).slice(2, 8)}`;
	if (params.token) tokenInput.value = params.token;
	if (params.invite) inviteInput.value = `#invite=${params.invite}`;
	applyInvite();
	// The token stays in the form only, not in the address bar or history.
	history.replaceState(null, '', `${location.pathname}${fragmentWithoutToken(params)}`);
	devTokens = devTokenAvailable();
	if (!tokenInput.value && (await devTokens)) {
		byId('token-hint').textContent = 'Optional here: this server hands development tokens to this machine.';
	}
}

inviteInput.addEventListener('input', () => applyInvite());

form.addEventListener('submit', (event) => {
	event.preventDefault();
	void join();
});

async function join(): Promise<void> {
	const descriptor = applyInvite();
	if (inviteInput.value.trim() && !descriptor) return setStatus('The invite link is not valid: copy all of it.');
	const displayName = nameInput.value.trim();
	const conferenceId = conferenceInput.value.trim();
	localStorage.setItem(NAME_KEY, displayName);
	joinButton.disabled = true;
	try {
		setStatus('Connecting…');
		const token = tokenInput.value.trim() || ((await devTokens) ? await fetchDevToken(conferenceId).catch(() => undefined) : undefined);
		if (!token) return setStatus(describeError('token_missing'));
		client = await SftClient.connect(location.origin, token, { device: browserDevice });
		setStatus('Joining…');
		const call = await client.join(conferenceId, { displayName, descriptor });
		enterCall(call, descriptor);
		await publishLocalMedia(call);
	} catch (error) {
		client?.close();
		client = undefined;
		setStatus(error instanceof RequestError ? describeError(error.code) : `Could not join: ${(error as Error).message}`);
	} finally {
		joinButton.disabled = false;
	}
}

function setStatus(text: string): void {
	joinStatus.textContent = text;
}

function enterCall(call: Call, descriptor: ConferenceDescriptor | undefined): void {
	setStatus('');
	show('call');
	const invite = descriptor ? encodeDescriptor(descriptor) : undefined;
	history.replaceState(
		null,
		'',
		`${location.pathname}${fragmentWithoutToken({ conference: call.conferenceId, ...(invite ? { invite } : {}) })}`,
	);
	view = new CallView(call, { notify, onLeave: () => void call.leave() });
	call.on('ended', ({ reason, error }) => {
		view?.close();
		view = undefined;
		client?.close();
		client = undefined;
		for (const track of localTracks) track.stop();
		localTracks = [];
		byId('ended-reason').textContent = error ? describeError(error.code) : describeEnd(reason);
		show('ended');
	});
	call.on('error', (error) => console.warn('call:', error.message));
}

/** Microphone and camera; the call goes on without them when they cannot be opened. */
async function publishLocalMedia(call: Call): Promise<void> {
	const problems: string[] = [];
	for (const [source, open] of [
		['mic', openMicrophone],
		['camera', () => openCamera(call.capabilities.simulcast)],
	] as const) {
		try {
			const track = await open();
			localTracks.push(track);
			await call.publish(source, track);
		} catch (error) {
			problems.push(error instanceof RequestError ? describeError(error.code) : describeMediaError(error));
		}
	}
	if (problems.length) notify([...new Set(problems)].join(' '));
}

byId('rejoin-button').addEventListener('click', () => show('join'));

void prepareJoinScreen();
