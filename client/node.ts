// The SDK in Node: mediasoup-client 3.18 on werift's RTCPeerConnection polyfill
// (real ICE, DTLS and SRTP over UDP), for tests and the benches.
import { Device } from 'mediasoup-client';
import type { MediaDevice } from './media.ts';

let polyfillInstalled: Promise<void> | undefined;

/**
 * Installs werift's WebRTC globals once per process. Host candidates include
 * loopback, which werift leaves out by default, so calls work on 127.0.0.1.
 */
export function installWeriftPolyfill(): Promise<void> {
	polyfillInstalled ??= (async () => {
		const { installPolyfill } = await import('werift/polyfill');
		installPolyfill({
			mediaRegister: [],
			peerConnectionConfig: { iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false, iceUseTcp: false, iceTcpPassive: false },
		});
	})();
	return polyfillInstalled;
}

/** Device factory for `connect()` in Node. */
export async function weriftDevice(): Promise<MediaDevice> {
	await installWeriftPolyfill();
	return new Device({ handlerName: 'Chrome111' });
}
