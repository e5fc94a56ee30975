import type { Conference } from '../../sft/Conference.ts';
import type { Participant } from '../../sft/Participant.ts';
import { SignallingError, type SignallingErrorCode } from './errors.ts';

/** Per-client caps (config `limits`); each refusal has its own error code. */
export interface ClientLimits {
	maxTransportsPerClient: number;
	maxProducersPerClient: number;
	maxConsumersPerClient: number;
	maxAppDataBytes: number;
	maxParticipantsPerConference: number;
	maxUserIdLength: number;
}

type Counted = 'transports' | 'producers' | 'consumers';

const REFUSAL: Record<Counted, SignallingErrorCode> = {
	transports: 'too_many_transports',
	producers: 'too_many_producers',
	consumers: 'too_many_consumers',
};

/**
 * One client's share of the media plane. Creations in flight count too, so
 * a burst of requests sent before any completes cannot overshoot a cap.
 */
export class ClientQuota {
	readonly #limits: ClientLimits;
	readonly #pending: Record<Counted, number> = { transports: 0, producers: 0, consumers: 0 };

	constructor(limits: ClientLimits) {
		this.#limits = limits;
	}

	/** Runs `create` if the participant has room for one more `kind`. */
	async reserve<T>(kind: Counted, participant: Participant, create: () => Promise<T>): Promise<T> {
		const max = this.#maxOf(kind);
		if (participant[kind].length + this.#pending[kind] >= max) {
			throw new SignallingError(REFUSAL[kind], `a client may have at most ${max} ${kind}`);
		}
		this.#pending[kind]++;
		try {
			return await create();
		} finally {
			this.#pending[kind]--;
		}
	}

	/** appData carries client metadata for other clients; it is not a storage area. */
	checkAppData(appData: Record<string, unknown> | undefined): void {
		if (appData === undefined) return;
		// Flat record of bounded scalars (protocol schema), so stringify is safe here.
		const bytes = Buffer.byteLength(JSON.stringify(appData));
		if (bytes > this.#limits.maxAppDataBytes) {
			throw new SignallingError('app_data_too_large', `appData is ${bytes} bytes; at most ${this.#limits.maxAppDataBytes} are allowed`);
		}
	}

	/** Checked right before the participant is added (no await in between). */
	checkRoom(conference: Conference): void {
		const max = this.#limits.maxParticipantsPerConference;
		if (conference.participants.length >= max)
			throw new SignallingError('conference_full', `the conference already has ${max} participants`);
	}

	#maxOf(kind: Counted): number {
		if (kind === 'transports') return this.#limits.maxTransportsPerClient;
		return kind === 'producers' ? this.#limits.maxProducersPerClient : this.#limits.maxConsumersPerClient;
	}
}
