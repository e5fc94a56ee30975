/**
 * Minimal RTP/RTCP byte builders and parsers for synthetic load: just enough
 * of RFC 3550 (header), RFC 8285 (header extensions) and Opus for mediasoup
 * to forward what we send, and for a receiver to tell which sender packet it
 * got and how late. VP8 is in vp8Packets.ts, RTCP in rtcpPackets.ts.
 */
import { packetBuffer } from './packetArena.ts';

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
	writeRtpHeader(packet, header, extensions.length > 0);
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

/** Writes the fixed 12-byte header (no CSRCs) at the start of `packet`; `extension` sets the X bit. */
export function writeRtpHeader(packet: Buffer, header: Omit<RtpHeaderFields, 'extensions'>, extension: boolean): void {
	packet[0] = 0x80 | (extension ? 0x10 : 0);
	packet[1] = (header.marker ? 0x80 : 0) | (header.payloadType & 0x7f);
	packet.writeUInt16BE(header.sequenceNumber & 0xffff, 2);
	packet.writeUInt32BE(header.timestamp >>> 0, 4);
	packet.writeUInt32BE(header.ssrc >>> 0, 8);
}

/**
 * Where the value of header extension `id` sits in an RTP packet (one- or
 * two-byte form), without parsing anything else; undefined if absent.
 */
export function findHeaderExtension(packet: Buffer, id: number): { offset: number; length: number } | undefined {
	const first = packet[0] ?? 0;
	if (!(first & 0x10)) return undefined;
	const start = 12 + (first & 0x0f) * 4;
	if (packet.length < start + 4) return undefined;
	const profile = packet.readUInt16BE(start);
	const end = start + 4 + packet.readUInt16BE(start + 2) * 4;
	if (packet.length < end) return undefined;
	const oneByte = profile === ONE_BYTE_PROFILE;
	if (!oneByte && (profile & TWO_BYTE_PROFILE_MASK) !== TWO_BYTE_PROFILE) return undefined;
	let i = start + 4;
	while (i < end) {
		const b = packet[i] ?? 0;
		if (b === 0) {
			i++; // padding
			continue;
		}
		const elementId = oneByte ? b >> 4 : b;
		if (oneByte && elementId === 15) return undefined;
		const length = oneByte ? (b & 0x0f) + 1 : (packet[i + 1] ?? 0);
		const offset = i + (oneByte ? 1 : 2);
		if (offset + length > end) return undefined;
		if (elementId === id) return { offset, length };
		i = offset + length;
	}
	return undefined;
}

/** Where the payload of an RTP packet starts (after CSRCs and extensions), or -1 if the packet is malformed. */
export function rtpPayloadOffset(packet: Buffer): number {
	if (packet.length < 12) return -1;
	const first = packet[0] ?? 0;
	let offset = 12 + (first & 0x0f) * 4;
	if (first & 0x10) {
		if (packet.length < offset + 4) return -1;
		offset += 4 + packet.readUInt16BE(offset + 2) * 4;
	}
	return offset <= packet.length ? offset : -1;
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
	const stamp: SendStamp = { streamId: 0, seq: 0, sentAtMs: 0 };
	return readSendStamp(payload, 0, stamp, searchBytes) ? stamp : undefined;
}

/** findSendStamp without allocating: reads the stamp found in `packet` from `from` on into `out`. */
export function readSendStamp(packet: Buffer, from: number, out: SendStamp, searchBytes = 48): boolean {
	const last = Math.min(from + searchBytes, packet.length - SEND_STAMP_BYTES);
	for (let i = from; i <= last; i++) {
		if (packet[i] === 0x53 && packet.readUInt32BE(i) === STAMP_MAGIC) {
			out.streamId = packet.readUInt32BE(i + 4);
			out.seq = packet.readUInt32BE(i + 8);
			out.sentAtMs = packet.readDoubleBE(i + 12);
			return true;
		}
	}
	return false;
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

/**
 * A whole Opus RTP packet with the ssrc-audio-level extension, written into
 * a reused buffer (see packetArena.ts): the load senders' per-packet path.
 */
export function writeOpusPacket(
	header: Omit<RtpHeaderFields, 'extensions'>,
	audioLevel: { extensionId: number; levelDbov: number },
	payloadBytes: number,
	stamp: SendStamp,
): Buffer {
	const size = Math.max(payloadBytes, 1 + SEND_STAMP_BYTES);
	const packet = packetBuffer(20 + size);
	writeRtpHeader(packet, header, true);
	packet.writeUInt16BE(ONE_BYTE_PROFILE, 12);
	packet.writeUInt16BE(1, 14);
	packet[16] = audioLevel.extensionId << 4; // one byte of data
	packet[17] = 0x80 | Math.min(127, Math.max(0, Math.round(audioLevel.levelDbov)));
	packet[18] = 0;
	packet[19] = 0;
	packet[20] = OPUS_TOC;
	writeSendStamp(packet, 21, stamp);
	return packet;
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
