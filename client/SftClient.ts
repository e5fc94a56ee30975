import { Call, type JoinOptions } from './Call.ts';
import type { DeviceFactory, MediaDevice } from './media.ts';
import type { Capabilities } from './protocol.ts';
import { Signalling, type SignallingOptions } from './Signalling.ts';

export interface ConnectOptions extends SignallingOptions {
	/**
	 * Makes the mediasoup-client Device to use: `browserDevice` (client/browser.ts)
	 * in browsers, `weriftDevice` (client/node.ts) in Node.
	 */
	device: DeviceFactory;
}

/** A connection to one SFT, ready to join a conference. */
export class SftClient {
	readonly signalling: Signalling;
	readonly device: MediaDevice;
	readonly capabilities: Capabilities;
	readonly #token: string | undefined;

	private constructor(signalling: Signalling, device: MediaDevice, capabilities: Capabilities, token: string | undefined) {
		this.signalling = signalling;
		this.device = device;
		this.capabilities = capabilities;
		this.#token = token;
	}

	static async connect(url: string, token: string | undefined, options: ConnectOptions): Promise<SftClient> {
		const signalling = await Signalling.connect(url, options);
		try {
			const capabilities = await signalling.request('getCapabilities', {});
			const device = await options.device();
			if (!device.loaded) await device.load({ routerRtpCapabilities: capabilities.rtpCapabilities });
			return new SftClient(signalling, device, capabilities, token);
		} catch (error) {
			signalling.close();
			throw error;
		}
	}

	/** Joins a conference of this SFT, or (with a descriptor) one anchored at another domain through this SFT. */
	join(conferenceId: string, options: JoinOptions = {}): Promise<Call> {
		const session = { signalling: this.signalling, device: this.device, capabilities: this.capabilities, token: this.#token };
		return Call.join(session, conferenceId, options);
	}

	/** Closes the connection (a joined call ends with it). */
	close(): void {
		this.signalling.close();
	}
}

/** Connects to an SFT's client listener, e.g. `connect('https://sft.example:8443', token, { device: browserDevice })`. */
export function connect(url: string, token: string | undefined, options: ConnectOptions): Promise<SftClient> {
	return SftClient.connect(url, token, options);
}
