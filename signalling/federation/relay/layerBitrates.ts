import type { types as ms } from 'mediasoup';
import { layersOf } from '../../../sft/producerMeta.ts';

/** Assumed when a layer sends nothing right now (its sender switched it off): a 720p camera layer, roughly. */
const UNKNOWN_VIDEO_LAYER_BPS = 700_000;
const UNKNOWN_AUDIO_BPS = 50_000;

type StreamStats = { type: string; ssrc?: number; rid?: string; bitrate?: number; bitrateByLayer?: Record<string, number> };

/**
 * The current bitrate of each spatial layer of some producers, from
 * mediasoup's producer stats (one inbound stream per simulcast encoding; for
 * SVC, cumulative per-layer figures of the one stream). Refreshed by polling;
 * the link budget reads it between polls.
 */
export class LayerBitrates {
	readonly #bitrates = new Map<string, number[]>();

	async refresh(producers: readonly ms.Producer[]): Promise<void> {
		const seen = new Set<string>();
		await Promise.all(
			producers.map(async (producer) => {
				seen.add(producer.id);
				const stats = (await producer.getStats().catch(() => [])) as StreamStats[];
				this.#bitrates.set(producer.id, perLayer(producer, stats));
			}),
		);
		for (const id of [...this.#bitrates.keys()]) if (!seen.has(id)) this.#bitrates.delete(id);
	}

	/** Bit/s of one spatial layer; an estimate when no figure was polled yet or the layer is silent. */
	get(producer: ms.Producer, layer: number): number {
		const figure = this.#bitrates.get(producer.id)?.[layer];
		if (figure) return figure;
		if (producer.kind === 'audio') return UNKNOWN_AUDIO_BPS;
		return producer.rtpParameters.encodings?.[layer]?.maxBitrate ?? UNKNOWN_VIDEO_LAYER_BPS;
	}
}

function perLayer(producer: ms.Producer, stats: StreamStats[]): number[] {
	const inbound = stats.filter((s) => s.type === 'inbound-rtp');
	const encodings = producer.rtpParameters.encodings ?? [];
	if (encodings.length > 1) {
		return encodings.map((encoding) => {
			const entry = inbound.find(
				(s) => (encoding.ssrc !== undefined && s.ssrc === encoding.ssrc) || (encoding.rid && s.rid === encoding.rid),
			);
			return entry?.bitrate ?? 0;
		});
	}
	const stream = inbound[0];
	if (!stream) return [];
	const { spatialLayers, temporalLayers } = producer.kind === 'video' ? layersOf(producer) : { spatialLayers: 1, temporalLayers: 1 };
	if (spatialLayers <= 1 || !stream.bitrateByLayer) return [stream.bitrate ?? 0];
	// SVC: figures are cumulative; a layer's own share is the difference to the one below.
	const cumulative = Array.from({ length: spatialLayers }, (_, s) => stream.bitrateByLayer?.[`${s}.${temporalLayers - 1}`] ?? 0);
	return cumulative.map((value, s) => Math.max(0, value - (cumulative[s - 1] ?? 0)));
}
