import { RelayError } from './RelayError.ts';

/** What one partner SFT may add to a shared conference (from config `limits`). */
export interface PartnerLimits {
	/** Everyone in the conference, local and mirrored. */
	maxParticipantsPerConference: number;
	/** Streams of one mirrored participant. */
	maxProducersPerParticipant: number;
}

/** A partner is trusted to be who it is, not to be reasonable: its additions are capped like a client's. */
export function assertPartnerMayAdd(limits: PartnerLimits | undefined, what: 'participant' | 'producer', present: number): void {
	if (!limits) return;
	if (what === 'participant' && present >= limits.maxParticipantsPerConference) {
		throw new RelayError('conference_full', `the conference already has ${limits.maxParticipantsPerConference} participants`);
	}
	if (what === 'producer' && present >= limits.maxProducersPerParticipant) {
		throw new RelayError('too_many_producers', `a participant may have at most ${limits.maxProducersPerParticipant} producers`);
	}
}
