import type { types as ms } from 'mediasoup';
import type { PipeEndpoint, RelayOptions } from './MediaRelay.ts';
import { bufferListenInfo } from './socketBuffers.ts';

/** The UDP socket of a federation relay: the pipe port range, announced address and buffer sizes. */
export function relayListenInfo(options: RelayOptions): ms.TransportListenInfo {
	return {
		protocol: 'udp',
		ip: options.listenIp,
		...(options.announcedAddress ? { announcedAddress: options.announcedAddress } : {}),
		portRange: options.portRange,
		...bufferListenInfo(options.socketBuffers),
	};
}

/** Where a relay sends to reach `remote`: the far side itself, unless a test hook puts a proxy between. */
export async function relayTarget(options: RelayOptions, local: PipeEndpoint, remote: PipeEndpoint): Promise<PipeEndpoint> {
	if (!options.remoteEndpointHook) return remote;
	const { ip, port } = await options.remoteEndpointHook(local, remote);
	return { ...remote, ip, port };
}
