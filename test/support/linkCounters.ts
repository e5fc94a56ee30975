import type { types as ms } from 'mediasoup';
import type { ConferenceLink } from '../../signalling/federation/relay/ConferenceLink.ts';

/** RTP packets one consumer has sent so far (mediasoup's outbound-rtp stats). */
export async function sentPackets(consumer: ms.Consumer): Promise<number> {
	const stats = (await consumer.getStats()) as { type: string; packetCount?: number }[];
	return stats.find((s) => s.type === 'outbound-rtp')?.packetCount ?? 0;
}

/** RTP packets the relay's consumers for `producerId` have sent over the link so far (every layer). */
export async function crossedPackets(link: ConferenceLink, producerId: string): Promise<number> {
	let packets = 0;
	for (const consumer of link.relay.sentConsumers.filter((c) => c.producerId === producerId)) packets += await sentPackets(consumer);
	return packets;
}
