import { z } from 'zod';

/**
 * Messages between two SFTs about one conference, over their authenticated
 * federation socket. The set is symmetric: each side tells the other about
 * the participants and streams the other does not have yet.
 */
const id = z.string().min(1).max(128);
const srtpParameters = z.object({
	cryptoSuite: z.enum(['AEAD_AES_256_GCM', 'AEAD_AES_128_GCM', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32']),
	keyBase64: z.string().max(256),
});
export const pipeEndpointSchema = z.object({ ip: z.string().max(64), port: z.number().int().min(1).max(65535), srtpParameters });
export const relayModeSchema = z.enum(['full', 'demand']);
/** The anchor's reply to `conf:attach`. */
export const attachReplySchema = z.object({ relayMode: relayModeSchema, endpoint: pipeEndpointSchema.optional() });
const participant = z.object({
	participantId: id,
	userId: z.string().max(256),
	displayName: z.string().max(256),
	/** The participant's home domain when it is not the sender's own (a star relays other domains' participants). */
	domain: z.string().max(253).optional(),
});
const relayedProducer = z.object({
	producerId: id,
	kind: z.enum(['audio', 'video']),
	rtpParameters: z.looseObject({ codecs: z.array(z.looseObject({})).min(1).max(16) }),
	paused: z.boolean(),
	// Client appData (bounded scalars) plus the owner's id; never a partner's storage area.
	appData: z
		.record(z.string().max(1024), z.union([z.string().max(1024), z.number(), z.boolean()]))
		.refine((appData) => Object.keys(appData).length <= 256, 'appData has more than 256 keys'),
});

/** What a client of another domain needs to join: handed around out of band. */
export const conferenceDescriptorSchema = z.object({
	conferenceId: id,
	anchorDomain: z.string().min(1).max(253),
	createdAt: z.string().max(64),
	/** Anchor's federation endpoint; absent when partners find it by DNS SRV. */
	federationEndpoint: z.object({ host: z.string().max(253), port: z.number().int().min(1).max(65535) }).optional(),
});
export type ConferenceDescriptor = z.output<typeof conferenceDescriptorSchema>;

export const linkMessageSchemas = {
	/**
	 * Federated SFT → anchor: join this conference; here is my relay end, of
	 * this mode. The anchor replies `{ relayMode, endpoint }`, or only
	 * `{ relayMode }` when the link must use the other mode (attach again with it).
	 */
	'conf:attach': z.object({
		conferenceId: id,
		endpoint: pipeEndpointSchema,
		relayMode: relayModeSchema.default('full'),
		/** A survivor asks us to take over from this lost anchor (we are its successor). */
		failoverFrom: z.string().min(1).max(253).optional(),
	}),
	/** Anchor → federated SFTs: the partner domains attached now, so survivors can agree on a successor. */
	'conf:members': z.object({ conferenceId: id, domains: z.array(z.string().min(1).max(253)).max(256) }),
	'conf:detach': z.object({ conferenceId: id }),
	'conf:participantJoined': z.object({ conferenceId: id, participant }),
	'conf:participantLeft': z.object({ conferenceId: id, participantId: id }),
	'conf:producerAdded': z.object({ conferenceId: id, participantId: id, producer: relayedProducer }),
	'conf:producerClosed': z.object({ conferenceId: id, producerId: id }),
	'conf:producerPaused': z.object({ conferenceId: id, producerId: id, paused: z.boolean() }),
	/** Old anchor → its federated SFTs: another SFT won the anchor election; attach there. */
	'conf:rehome': z.object({ conferenceId: id, descriptor: conferenceDescriptorSchema }),
	/**
	 * Either direction: what the sender's viewers need of the receiver's
	 * streams: per producer, `[spatial layer, rank]` pairs (rank 0 screen, 1
	 * speaker/pinned, 2 large, 3 thumbnail), and how loud the sender's own
	 * loudest speakers are, so the receiver relays only speakers who could
	 * out-rank them. Full state, sent when it changes.
	 */
	'conf:demand': z.object({
		conferenceId: id,
		video: z.array(z.tuple([id, z.array(z.tuple([z.number().int().min(0).max(15), z.number().int().min(0).max(3)])).max(16)])).max(2048),
		/** dBov of the sender's side's loudest speakers (not the receiver's), loudest first. */
		audio: z.array(z.number().min(-127).max(0)).max(16).default([]),
	}),
	/** Anchor → federated SFT: the conference is over. */
	'conf:ended': z.object({ conferenceId: id, reason: z.string().max(64) }),
} as const;

export type LinkMessageName = keyof typeof linkMessageSchemas;
export type LinkMessage<N extends LinkMessageName> = z.output<(typeof linkMessageSchemas)[N]>;
export const linkMessageNames = Object.keys(linkMessageSchemas) as LinkMessageName[];
