import type { types as ms } from 'mediasoup';
import { defaultTopSize, describeLayers, type MediaSource, type ProducerLayers, type Size } from './simulcast.ts';

/**
 * What the SFT records about a producer in its appData. appData crosses
 * federation links with the producer, so a relayed copy carries the same
 * source and size as the original.
 */
export interface ProducerMeta {
	participantId: string;
	source: MediaSource;
	/** Frame size of the top layer as the sender declared it (or the default for its source). */
	width?: number;
	height?: number;
}

export function producerAppData(participantId: string, source: MediaSource, size: Size | undefined): ProducerMeta {
	return { participantId, source, ...(size ? { width: size.width, height: size.height } : {}) };
}

export function sourceOf(producer: ms.Producer): MediaSource {
	const source = producer.appData['source'];
	if (source === 'mic' || source === 'camera' || source === 'screen') return source;
	return producer.kind === 'audio' ? 'mic' : 'camera';
}

export function ownerOf(producer: ms.Producer): string {
	return String(producer.appData['participantId'] ?? '');
}

function declaredSize(producer: ms.Producer): Size | undefined {
	const { width, height } = producer.appData;
	return typeof width === 'number' && typeof height === 'number' ? { width, height } : undefined;
}

/** Spatial/temporal layers of a video producer and the frame size of each spatial layer. */
export function layersOf(producer: ms.Producer): ProducerLayers {
	return describeLayers(producer.rtpParameters.encodings ?? [], declaredSize(producer) ?? defaultTopSize[sourceOf(producer)]);
}
