/**
 * VP8 over RTP (RFC 7741) as libwebrtc sends it, for synthetic load: the
 * payload descriptor with a 15-bit picture id and, with temporal layers,
 * TL0PICIDX and the TID/Y byte; on the first packet of a frame the payload
 * header whose P bit tells key from delta frames. mediasoup reads exactly these
 * to start a viewer on a key frame, switch simulcast layers and drop temporal
 * layers.
 */
import { packetBuffer } from './packetArena.ts';
import { type RtpHeaderFields, SEND_STAMP_BYTES, type SendStamp, writeRtpHeader, writeSendStamp } from './rtpPackets.ts';

/** What the descriptor says about the frame a packet belongs to. */
export interface Vp8FrameInfo {
	/** 15 bits, one per frame of the encoding. */
	pictureId: number;
	keyFrame: boolean;
	/** Temporal layer id; undefined for a stream without temporal layers (no L/T fields). */
	temporalId: number | undefined;
	/** Y bit: the frame depends only on TL0, so a viewer can switch up here. */
	layerSync: boolean;
	/** Counts TL0 frames (8 bits); written when temporalId is set. */
	tl0PicIdx: number;
	/** N bit: no later frame references this one. */
	nonReference: boolean;
	width: number;
	height: number;
}

/** Descriptor bytes before the frame data: X, I/L/T, two-byte picture id, then TL0PICIDX and TID/Y/KEYIDX. */
function descriptorBytes(frame: Vp8FrameInfo): number {
	return frame.temporalId === undefined ? 4 : 6;
}

/**
 * A whole RTP packet carrying part of a VP8 frame, `payloadBytes` long after
 * the RTP header: descriptor, (first packet) payload header, send stamp, filler
 * (in a reused buffer: send it before the arena comes round, see packetArena.ts).
 */
export function writeVp8Packet(
	header: Omit<RtpHeaderFields, 'extensions'>,
	frame: Vp8FrameInfo,
	firstOfFrame: boolean,
	payloadBytes: number,
	stamp: SendStamp,
): Buffer {
	const frameHeader = firstOfFrame ? (frame.keyFrame ? 10 : 3) : 0;
	const used = descriptorBytes(frame) + frameHeader + SEND_STAMP_BYTES;
	const packet = packetBuffer(12 + Math.max(payloadBytes, used));
	writeRtpHeader(packet, header, false);
	let o = 12;
	packet[o++] = 0x80 | (frame.nonReference ? 0x20 : 0) | (firstOfFrame ? 0x10 : 0); // X, N, S, PID 0
	const layered = frame.temporalId !== undefined;
	packet[o++] = 0x80 | (layered ? 0x60 : 0); // I, and L + T with temporal layers
	packet[o++] = 0x80 | ((frame.pictureId >> 8) & 0x7f);
	packet[o++] = frame.pictureId & 0xff;
	if (layered) {
		packet[o++] = frame.tl0PicIdx & 0xff;
		packet[o++] = (((frame.temporalId ?? 0) & 0x03) << 6) | (frame.layerSync ? 0x20 : 0);
	}
	if (firstOfFrame) {
		// size0 = 0, show_frame = 1, version 0, P = 0 for a key frame.
		packet[o++] = frame.keyFrame ? 0x10 : 0x11;
		packet[o++] = 0;
		packet[o++] = 0;
		if (frame.keyFrame) {
			packet[o++] = 0x9d;
			packet[o++] = 0x01;
			packet[o++] = 0x2a;
			packet.writeUInt16LE(frame.width & 0x3fff, o);
			packet.writeUInt16LE(frame.height & 0x3fff, o + 2);
			o += 4;
		}
	}
	writeSendStamp(packet, o, stamp);
	return packet;
}

export interface Vp8Descriptor {
	start: boolean;
	partitionIndex: number;
	pictureId: number | undefined;
	tl0PicIdx: number | undefined;
	temporalId: number | undefined;
	layerSync: boolean;
	keyFrame: boolean;
	/** Key frames only: the frame size in the key frame header. */
	width: number | undefined;
	height: number | undefined;
}

/** Reads the VP8 payload descriptor the way mediasoup does (RTC/Codecs/VP8.cpp). */
export function parseVp8Descriptor(payload: Buffer): Vp8Descriptor | undefined {
	if (payload.length < 1) return undefined;
	const first = payload.readUInt8(0);
	const start = (first & 0x10) !== 0;
	const partitionIndex = first & 0x07;
	let offset = 1;
	let pictureId: number | undefined;
	let tl0PicIdx: number | undefined;
	let temporalId: number | undefined;
	let layerSync = false;
	if (first & 0x80) {
		if (payload.length < offset + 1) return undefined;
		const ext = payload.readUInt8(offset++);
		if (ext & 0x80) {
			if (payload.length < offset + 1) return undefined;
			const b = payload.readUInt8(offset++);
			if (b & 0x80) {
				if (payload.length < offset + 1) return undefined;
				pictureId = ((b & 0x7f) << 8) | payload.readUInt8(offset++);
			} else pictureId = b & 0x7f;
		}
		if (ext & 0x40) {
			if (payload.length < offset + 1) return undefined;
			tl0PicIdx = payload.readUInt8(offset++);
		}
		if (ext & 0x30) {
			if (payload.length < offset + 1) return undefined;
			const b = payload.readUInt8(offset++);
			if (ext & 0x20) {
				temporalId = b >> 6;
				layerSync = (b & 0x20) !== 0;
			}
		}
	}
	const keyFrame = payload.length > offset && start && partitionIndex === 0 && (payload.readUInt8(offset) & 0x01) === 0;
	const sized = keyFrame && payload.length >= offset + 10;
	return {
		start,
		partitionIndex,
		pictureId,
		tl0PicIdx,
		temporalId,
		layerSync,
		keyFrame,
		width: sized ? payload.readUInt16LE(offset + 6) & 0x3fff : undefined,
		height: sized ? payload.readUInt16LE(offset + 8) & 0x3fff : undefined,
	};
}
