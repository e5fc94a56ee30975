/**
 * Minimal RTP/RTCP byte builders and parsers for synthetic load: just enough
 * of RFC 3550 (header), RFC 8285 (header extensions), RFC 7741 (VP8) and
 * RFC 4585 (PLI/FIR) for mediasoup to forward what we send, and for a
 * receiver to tell which sender packet it got and how late.
 */

export interface RtpExtension {
	id: number;
	value: Uint8Array;
}

export interface RtpHeaderFields {
	payloadType: number;
	sequenceNumber: number;
	timestamp: number;
	ssrc: number;
	marker?: boolean;
	extensions?: readonly RtpExtension[];
}

export interface ParsedRtp {
	payloadType: number;
	marker: boolean;
	sequenceNumber: number;
	timestamp: number;
	ssrc: number;
	extensions: RtpExtension[];
	payload: Buffer;
	/** Sender stamp found in the payload, if any (see writeSendStamp). */
	stamp: SendStamp | undefined;
}

const ONE_BYTE_PROFILE = 0xbede;
const TWO_BYTE_PROFILE_MASK = 0xfff0;
const TWO_BYTE_PROFILE = 0x1000;

/** Builds an RTP packet; extensions use the one-byte form (ids 1..14, 1..16 bytes). */
export function buildRtpPacket(header: RtpHeaderFields, payload: Uint8Array): Buffer {
	const extensions = header.extensions ?? [];
	const extBody = extensions.reduce((n, e) => n + 1 + e.value.length, 0);
	const extWords = Math.ceil(extBody / 4);
	const extLength = extensions.length > 0 ? 4 + extWords * 4 : 0;
	const packet = Buffer.alloc(12 + extLength + payload.length);
	packet[0] = 0x80 | (extensions.length > 0 ? 0x10 : 0);
	packet[1] = (header.marker ? 0x80 : 0) | (header.payloadType & 0x7f);
	packet.writeUInt16BE(header.sequenceNumber & 0xffff, 2);
	packet.writeUInt32BE(header.timestamp >>> 0, 4);
	packet.writeUInt32BE(header.ssrc >>> 0, 8);
	if (extensions.length > 0) {
		packet.writeUInt16BE(ONE_BYTE_PROFILE, 12);
		packet.writeUInt16BE(extWords, 14);
		let offset = 16;
		for (const { id, value } of extensions) {
			if (id < 1 || id > 14 || value.length < 1 || value.length > 16) {
				throw new RangeError(`one-byte header extension needs id 1..14 and 1..16 bytes (id ${id}, ${value.length} bytes)`);
			}
			packet[offset++] = (id << 4) | (value.length - 1);
			packet.set(value, offset);
			offset += value.length;
		}
		// The rest of the last word stays zero: padding bytes.
	}
	packet.set(payload, 12 + extLength);
	return packet;
}

/** RFC 5761: RTCP packet types 192..223 occupy the RTP marker+PT byte. */
export function isRtcp(packet: Buffer): boolean {
	return packet.length >= 8 && packet.readUInt8(0) >> 6 === 2 && packet.readUInt8(1) >= 192 && packet.readUInt8(1) <= 223;
}

/** Parses an RTP packet (one- or two-byte extensions); undefined if malformed. */
export function parseRtpPacket(packet: Buffer): ParsedRtp | undefined {
	if (packet.length < 12 || packet.readUInt8(0) >> 6 !== 2) return undefined;
	const hasPadding = (packet.readUInt8(0) & 0x20) !== 0;
	const hasExtension = (packet.readUInt8(0) & 0x10) !== 0;
	const csrcCount = packet.readUInt8(0) & 0x0f;
	let offset = 12 + csrcCount * 4;
	const extensions: RtpExtension[] = [];
	if (hasExtension) {
		if (packet.length < offset + 4) return undefined;
		const profile = packet.readUInt16BE(offset);
		const end = offset + 4 + packet.readUInt16BE(offset + 2) * 4;
		if (packet.length < end) return undefined;
		if (profile === ONE_BYTE_PROFILE) readOneByteExtensions(packet, offset + 4, end, extensions);
		else if ((profile & TWO_BYTE_PROFILE_MASK) === TWO_BYTE_PROFILE) readTwoByteExtensions(packet, offset + 4, end, extensions);
		offset = end;
	}
	let payloadEnd = packet.length;
	if (hasPadding) payloadEnd -= packet.readUInt8(packet.length - 1);
	if (payloadEnd < offset) return undefined;
	const payload = packet.subarray(offset, payloadEnd);
	return {
		payloadType: packet.readUInt8(1) & 0x7f,
		marker: (packet.readUInt8(1) & 0x80) !== 0,
		sequenceNumber: packet.readUInt16BE(2),
		timestamp: packet.readUInt32BE(4),
		ssrc: packet.readUInt32BE(8),
		extensions,
		payload,
		stamp: findSendStamp(payload),
	};
}

function readOneByteExtensions(packet: Buffer, start: number, end: number, out: RtpExtension[]): void {
	let i = start;
	while (i < end) {
		const byte = packet.readUInt8(i);
		if (byte === 0) {
			i++; // padding
			continue;
		}
		const id = byte >> 4;
		if (id === 15) return; // reserved: stop parsing (RFC 8285 §4.2)
		const length = (byte & 0x0f) + 1;
		if (i + 1 + length > end) return;
		out.push({ id, value: packet.subarray(i + 1, i + 1 + length) });
		i += 1 + length;
	}
}

function readTwoByteExtensions(packet: Buffer, start: number, end: number, out: RtpExtension[]): void {
	let i = start;
	while (i + 1 < end) {
		const id = packet.readUInt8(i);
		if (id === 0) {
			i++;
			continue;
		}
		const length = packet.readUInt8(i + 1);
		if (i + 2 + length > end) return;
		out.push({ id, value: packet.subarray(i + 2, i + 2 + length) });
		i += 2 + length;
	}
}

// --- sender stamp -------------------------------------------------------

/**
 * What a sender writes into every payload so that a receiver on the same
 * machine can match packets across mediasoup's SSRC/sequence rewriting and
 * compute one-way delay: the sender's stream id and own packet counter, and
 * the wall-clock send time in ms with sub-microsecond resolution
 * (performance.timeOrigin + now() is comparable between processes).
 */
export interface SendStamp {
	streamId: number;
	seq: number;
	sentAtMs: number;
}

const STAMP_MAGIC = 0x53465453; // "SFTS"
export const SEND_STAMP_BYTES = 20;

export function nowMs(): number {
	return performance.timeOrigin + performance.now();
}

export function writeSendStamp(target: Buffer, offset: number, stamp: SendStamp): void {
	target.writeUInt32BE(STAMP_MAGIC, offset);
	target.writeUInt32BE(stamp.streamId >>> 0, offset + 4);
	target.writeUInt32BE(stamp.seq >>> 0, offset + 8);
	target.writeDoubleBE(stamp.sentAtMs, offset + 12);
}

/** The stamp sits after codec headers whose length varies, so look for its magic near the start. */
export function findSendStamp(payload: Buffer, searchBytes = 48): SendStamp | undefined {
	const last = Math.min(searchBytes, payload.length - SEND_STAMP_BYTES);
	for (let i = 0; i <= last; i++) {
		if (payload[i] === 0x53 && payload.readUInt32BE(i) === STAMP_MAGIC) {
			return { streamId: payload.readUInt32BE(i + 4), seq: payload.readUInt32BE(i + 8), sentAtMs: payload.readDoubleBE(i + 12) };
		}
	}
	return undefined;
}

// --- Opus ----------------------------------------------------------------

/** TOC byte: config 31 (CELT fullband 20 ms), stereo, one frame: never read as DTX. */
const OPUS_TOC = 0xfc;

/** Opus payload of `size` bytes (TOC + stamp + filler). */
export function buildOpusPayload(size: number, stamp: SendStamp): Buffer {
	const payload = Buffer.alloc(Math.max(size, 1 + SEND_STAMP_BYTES), 0x55);
	payload[0] = OPUS_TOC;
	writeSendStamp(payload, 1, stamp);
	return payload;
}

/** RFC 6464 ssrc-audio-level value: V bit + level as -dBov (0 loudest, 127 silence). */
export function audioLevelExtension(id: number, levelDbov: number, voice = true): RtpExtension {
	const level = Math.min(127, Math.max(0, Math.round(levelDbov)));
	return { id, value: Uint8Array.of((voice ? 0x80 : 0) | level) };
}

export function readAudioLevel(extensions: readonly RtpExtension[], id: number): { voice: boolean; level: number } | undefined {
	const value = extensions.find((e) => e.id === id)?.value;
	if (!value || value.length < 1) return undefined;
	return { voice: ((value[0] ?? 0) & 0x80) !== 0, level: (value[0] ?? 0) & 0x7f };
}

// --- VP8 -----------------------------------------------------------------

export interface Vp8PacketOptions {
	/** 15-bit picture id, the same for every packet of a frame. */
	pictureId: number;
	/** First packet of a frame (S bit; partition 0). */
	start: boolean;
	/** Only meaningful with start: P bit 0 plus start code and size. */
	keyFrame: boolean;
	width?: number;
	height?: number;
	/** Total payload size in bytes (descriptor + headers + stamp + filler). */
	size: number;
	stamp: SendStamp;
}

/**
 * VP8 RTP payload: descriptor X=1, S, PID=0 with I=1 and a 15-bit picture id,
 * then (first packet of a frame) the 3-byte payload header whose P bit marks
 * key (0) or delta (1) frames, plus the key frame start code and dimensions.
 */
export function buildVp8Payload(options: Vp8PacketOptions): Buffer {
	const header: number[] = [0x80 | (options.start ? 0x10 : 0), 0x80, 0x80 | ((options.pictureId >> 8) & 0x7f), options.pictureId & 0xff];
	if (options.start) {
		// size0=0, show_frame=1, version 0, P bit.
		header.push(options.keyFrame ? 0x10 : 0x11, 0x00, 0x00);
		if (options.keyFrame) {
			const width = options.width ?? 640;
			const height = options.height ?? 360;
			header.push(0x9d, 0x01, 0x2a, width & 0xff, (width >> 8) & 0x3f, height & 0xff, (height >> 8) & 0x3f);
		}
	}
	const payload = Buffer.alloc(Math.max(options.size, header.length + SEND_STAMP_BYTES), 0xaa);
	payload.set(header, 0);
	writeSendStamp(payload, header.length, options.stamp);
	return payload;
}

export interface Vp8Descriptor {
	start: boolean;
	partitionIndex: number;
	pictureId: number | undefined;
	keyFrame: boolean;
}

/** Reads the VP8 payload descriptor the way mediasoup does (RTC/Codecs/VP8.cpp). */
export function parseVp8Descriptor(payload: Buffer): Vp8Descriptor | undefined {
	if (payload.length < 1) return undefined;
	const first = payload.readUInt8(0);
	const start = (first & 0x10) !== 0;
	const partitionIndex = first & 0x07;
	let offset = 1;
	let pictureId: number | undefined;
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
		if (ext & 0x40) offset++; // TL0PICIDX
		if (ext & 0x30) offset++; // TID/KEYIDX
	}
	const keyFrame = payload.length > offset && start && partitionIndex === 0 && (payload.readUInt8(offset) & 0x01) === 0;
	return { start, partitionIndex, pictureId, keyFrame };
}

// --- RTCP keyframe requests ---------------------------------------------

/** Media SSRCs for which a (compound) RTCP packet asks a key frame (PLI or FIR). */
export function keyFrameRequests(packet: Buffer): number[] {
	const ssrcs: number[] = [];
	let offset = 0;
	while (offset + 4 <= packet.length) {
		const first = packet.readUInt8(offset);
		if (first >> 6 !== 2) break;
		const fmt = first & 0x1f;
		const type = packet.readUInt8(offset + 1);
		const end = offset + (packet.readUInt16BE(offset + 2) + 1) * 4;
		if (end > packet.length) break;
		if (type === 206 && fmt === 1 && end - offset >= 12) {
			ssrcs.push(packet.readUInt32BE(offset + 8));
		} else if (type === 206 && fmt === 4) {
			for (let fci = offset + 12; fci + 8 <= end; fci += 8) ssrcs.push(packet.readUInt32BE(fci));
		}
		offset = end;
	}
	return ssrcs;
}

/** A PLI (RFC 4585 §6.3.1), for tests of the sender's key frame handling. */
export function buildPli(senderSsrc: number, mediaSsrc: number): Buffer {
	const packet = Buffer.alloc(12);
	packet[0] = 0x81;
	packet[1] = 206;
	packet.writeUInt16BE(2, 2);
	packet.writeUInt32BE(senderSsrc >>> 0, 4);
	packet.writeUInt32BE(mediaSsrc >>> 0, 8);
	return packet;
}
