import type { EncodingSender } from './media.ts';
import type { RecommendedEncodingInfo } from './protocol.ts';

/**
 * Switches a sender's simulcast encodings on and off as the SFT asks
 * (`encodingsNeeded`: one flag per encoding, lowest first). Returns whether
 * the parameters changed; flags beyond the sender's encodings are ignored and
 * encodings without a flag stay as they are.
 */
export async function applyEncodingsNeeded(sender: EncodingSender, active: readonly boolean[]): Promise<boolean> {
	const parameters = sender.getParameters();
	let changed = false;
	for (const [i, encoding] of (parameters.encodings ?? []).entries()) {
		const wanted = active[i];
		if (wanted === undefined || encoding.active === wanted) continue;
		encoding.active = wanted;
		changed = true;
	}
	if (changed) await sender.setParameters(parameters);
	return changed;
}

/**
 * Runs `encodingsNeeded` updates for one sender one after another and skips
 * those overtaken by a newer one (setParameters refuses overlapping calls).
 */
export class EncodingSwitch {
	readonly #sender: EncodingSender;
	#wanted: readonly boolean[] | undefined;
	#running: Promise<void> | undefined;
	#onError: (error: unknown) => void;

	constructor(sender: EncodingSender, onError: (error: unknown) => void) {
		this.#sender = sender;
		this.#onError = onError;
	}

	/** Asks for `active`; resolves once it (or a newer request) is applied. */
	set(active: readonly boolean[]): Promise<void> {
		this.#wanted = active;
		this.#running ??= this.#drain();
		return this.#running;
	}

	async #drain(): Promise<void> {
		try {
			while (this.#wanted) {
				const active = this.#wanted;
				this.#wanted = undefined;
				try {
					await applyEncodingsNeeded(this.#sender, active);
				} catch (error) {
					this.#onError(error);
				}
			}
		} finally {
			// In the same step as the last check, so a later set() starts a new drain.
			this.#running = undefined;
		}
	}
}

/** The SFT's recommendation as RTCRtpEncodingParameters for mediasoup-client's `produce`. */
export function toSendEncodings(encodings: readonly RecommendedEncodingInfo[]): RTCRtpEncodingParameters[] {
	return encodings.map((e) => ({ ...e }) as RTCRtpEncodingParameters);
}
