// The SDK in browsers: mediasoup-client 3.24 (package alias mediasoup-client-browser).
import { Device } from 'mediasoup-client-browser';
import type { MediaDevice } from './media.ts';

/** Device factory for `connect()` in browsers (the handler is detected from the browser). */
export function browserDevice(): MediaDevice {
	return new Device();
}
