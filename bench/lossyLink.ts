import type { ConferenceLink } from '../signalling/federation/relay/ConferenceLink.ts';
import { FederatedDomains } from '../test/support/federatedDomains.ts';
import type { Impairment } from './net/impairment.ts';
import { PlainRtpClient } from './rtp/plainRtpClient.ts';

export interface LossyLinkOptions {
	impairment: Impairment;
	/** Measured window after warm-up, ms. */
	windowMs: number;
	warmupMs?: number;
	videoPacketsPerSecond?: number;
}

export interface KindLoss {
	sent: number;
	received: number;
	/** Percent of the window's packets that never reached the receiver. */
	lossPercent: number;
}

export interface LossyLinkResult {
	impairment: Impairment;
	video: KindLoss;
	audio: KindLoss;
	/** Packets the path dropped (media + RTCP + RTX, both directions) over what it carried, percent. */
	linkDropPercent: number;
	/** Retransmissions the anchor sent over the link during the window, packets. */
	rtxPackets: number;
}

/**
 * One sender at the anchor a.loss, one receiver at b.loss, the pipe between
 * them through an impaired UDP wire. Loss is counted in the sender's own
 * sequence stamps: what the receiver never got of the window's packets,
 * after NACK and RTX had their chance (the count waits for late repairs).
 */
export async function measureLossyLink(options: LossyLinkOptions): Promise<LossyLinkResult> {
	const domains = await FederatedDomains.start(
		[
			{ domain: 'a.loss', allow: ['b.loss'] },
			{ domain: 'b.loss', allow: ['a.loss'] },
		],
		{ networkPaths: true },
	);
	const clients: PlainRtpClient[] = [];
	try {
		const a = domains.server('a.loss');
		const b = domains.server('b.loss');
		if (!a.hub || !b.hub) throw new Error('federation is off');
		const path = domains.path('a.loss', 'b.loss');
		await path.impair(options.impairment);
		const anchor = await a.sft.getOrCreateConference('lossy');
		const sender = await PlainRtpClient.join({
			conference: anchor,
			rtpCapabilities: a.sft.rtpCapabilities,
			name: 'sender',
			audio: { levelDbov: 20 },
			video: { packetsPerSecond: options.videoPacketsPerSecond ?? 300 },
			receive: false,
		});
		clients.push(sender);
		const share = await b.hub.joinWithDescriptor(a.hub.descriptorFor(anchor));
		const receiver = await PlainRtpClient.join({ conference: share, rtpCapabilities: b.sft.rtpCapabilities, name: 'receiver' });
		clients.push(receiver);
		const locals = { audio: sender.audio, video: sender.video };
		if (!locals.audio || !locals.video) throw new Error('the sender publishes audio and video');
		const measured = [locals.audio, locals.video];
		sender.startSending();
		const deadline = Date.now() + 10_000;
		while (!measured.every((local) => (receiver.remote(local.producer.id)?.counter.unique ?? 0) > 0)) {
			if (Date.now() > deadline) throw new Error('media did not reach the receiver across the link');
			await sleep(50);
		}
		await sleep(options.warmupMs ?? 1500);
		const from = measured.map((l) => l.sender.sent);
		const linkFrom = await path.mediaStats();
		const rtxFrom = await rtxSent(a.hub.links);
		await sleep(options.windowMs);
		const to = measured.map((l) => l.sender.sent);
		const linkTo = await path.mediaStats();
		const rtxTo = await rtxSent(a.hub.links);
		// Repairs of the window's last packets arrive up to a few RTTs later.
		await sleep(1000);
		const [audio, video] = measured.map((local, i): KindLoss => {
			const first = from[i] ?? 0;
			const last = to[i] ?? 0;
			const received = receiver.remote(local.producer.id)?.counter.seqs.countRange(first, last) ?? 0;
			const sent = last - first;
			return { sent, received, lossPercent: sent > 0 ? (100 * (sent - received)) / sent : 0 };
		}) as [KindLoss, KindLoss];
		const carried = linkTo.received - linkFrom.received;
		return {
			impairment: options.impairment,
			audio,
			video,
			linkDropPercent: carried > 0 ? (100 * (linkTo.dropped - linkFrom.dropped)) / carried : 0,
			rtxPackets: rtxTo - rtxFrom,
		};
	} finally {
		for (const client of clients) await client.stop();
		await domains.close();
	}
}

/** RTX packets the anchor's pipe consumers have sent (from mediasoup consumer stats). */
async function rtxSent(links: readonly ConferenceLink[]): Promise<number> {
	let packets = 0;
	for (const link of links) {
		for (const consumer of link.relay.sentConsumers) {
			for (const stat of (await consumer.getStats()) as { type?: string; packetsRetransmitted?: number }[]) {
				if (stat.type === 'outbound-rtp') packets += stat.packetsRetransmitted ?? 0;
			}
		}
	}
	return packets;
}

function sleep(ms: number): Promise<void> {
	return new Promise((resolve) => setTimeout(resolve, ms));
}
