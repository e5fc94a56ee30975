import type { Server as SocketIoServer } from 'socket.io';

/** The part of an engine.io socket that holds packets not yet handed to its transport. */
interface EngineSocket {
	readonly writeBuffer: unknown[];
	once(event: 'drain' | 'close', listener: () => void): unknown;
}

/**
 * Waits until every client's queued packets have been handed to its
 * transport, or `timeoutMs` passes. engine.io's close discards what is still
 * queued, so a last event (conferenceEnded) sent just before closing would
 * otherwise be lost whenever other events were ahead of it.
 */
export async function flushClients(io: SocketIoServer, timeoutMs: number): Promise<void> {
	const clients = Object.values((io.engine as unknown as { clients: Record<string, EngineSocket> }).clients);
	const pending = clients
		.filter((socket) => socket.writeBuffer.length > 0)
		.map(
			(socket) =>
				new Promise<void>((resolve) => {
					socket.once('drain', resolve);
					socket.once('close', resolve);
				}),
		);
	if (pending.length === 0) return;
	let timer: NodeJS.Timeout | undefined;
	await Promise.race([Promise.all(pending), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
	clearTimeout(timer);
}
