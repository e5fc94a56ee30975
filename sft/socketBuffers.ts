import type { types as ms } from 'mediasoup';

/**
 * UDP socket buffer sizes for media sockets, in bytes; 0 keeps the kernel's
 * default (net.core.rmem_default / wmem_default). The kernel caps a request
 * at net.core.rmem_max / wmem_max, so operators raise those too.
 */
export interface SocketBuffers {
	recvBufferBytes: number;
	sendBufferBytes: number;
}

/** The listen-info fields for `buffers` (none for a 0 size). */
export function bufferListenInfo(buffers: SocketBuffers | undefined): Pick<ms.TransportListenInfo, 'recvBufferSize' | 'sendBufferSize'> {
	return {
		...(buffers?.recvBufferBytes ? { recvBufferSize: buffers.recvBufferBytes } : {}),
		...(buffers?.sendBufferBytes ? { sendBufferSize: buffers.sendBufferBytes } : {}),
	};
}
