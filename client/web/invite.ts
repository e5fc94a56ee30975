import type { ConferenceDescriptor } from '../protocol.ts';

/**
 * Invites carry the conference descriptor in the URL fragment (never sent to
 * a server): `https://<inviter's SFT>/#invite=<base64url JSON>`. People of the
 * inviter's domain open the link; people of other domains paste it into their
 * own SFT's page, which joins through their SFT.
 */
export function inviteLink(origin: string, descriptor: ConferenceDescriptor): string {
	return `${origin}/#invite=${encodeDescriptor(descriptor)}`;
}

export function encodeDescriptor(descriptor: ConferenceDescriptor): string {
	const bytes = new TextEncoder().encode(JSON.stringify(descriptor));
	let binary = '';
	for (const byte of bytes) binary += String.fromCharCode(byte);
	return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** The descriptor in an invite link, its fragment or its encoded value; undefined when there is none or it is malformed. */
export function parseInvite(text: string): ConferenceDescriptor | undefined {
	const trimmed = text.trim();
	if (!trimmed) return undefined;
	const match = /(?:^|[#&])invite=([A-Za-z0-9_-]+)/.exec(trimmed);
	const encoded = match?.[1] ?? (/^[A-Za-z0-9_-]+$/.test(trimmed) ? trimmed : undefined);
	if (!encoded) return undefined;
	try {
		const binary = atob(encoded.replace(/-/g, '+').replace(/_/g, '/'));
		const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
		return asDescriptor(JSON.parse(json));
	} catch {
		return undefined;
	}
}

function asDescriptor(value: unknown): ConferenceDescriptor | undefined {
	if (typeof value !== 'object' || value === null) return undefined;
	const v = value as Record<string, unknown>;
	if (typeof v['conferenceId'] !== 'string' || typeof v['anchorDomain'] !== 'string' || typeof v['createdAt'] !== 'string')
		return undefined;
	const endpoint = v['federationEndpoint'] as Record<string, unknown> | undefined;
	const validEndpoint = endpoint && typeof endpoint['host'] === 'string' && typeof endpoint['port'] === 'number';
	return {
		conferenceId: v['conferenceId'],
		anchorDomain: v['anchorDomain'],
		createdAt: v['createdAt'],
		...(validEndpoint ? { federationEndpoint: { host: endpoint['host'] as string, port: endpoint['port'] as number } } : {}),
	};
}
