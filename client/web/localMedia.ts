import type { SimulcastProfiles } from '../protocol.ts';

/** A sentence for a getUserMedia / getDisplayMedia failure. */
export function describeMediaError(error: unknown): string {
	const name = (error as { name?: string }).name;
	if (name === 'NotAllowedError')
		return 'Access to the camera or microphone was refused. Allow it in the browser (address bar) and try again.';
	if (name === 'NotFoundError') return 'No camera or microphone was found.';
	if (name === 'NotReadableError') return 'The camera or microphone is in use by another application.';
	return `The camera or microphone could not be opened (${name ?? String(error)}).`;
}

/**
 * The camera at the size the SFT's simulcast layers are made for (exactly,
 * so all layers exist), or whatever the camera offers when it cannot.
 */
export async function openCamera(profiles: SimulcastProfiles): Promise<MediaStreamTrack> {
	const { width, height } = profiles.camera;
	let stream: MediaStream;
	try {
		stream = await navigator.mediaDevices.getUserMedia({ video: { width: { exact: width }, height: { exact: height } } });
	} catch (error) {
		if ((error as { name?: string }).name !== 'OverconstrainedError') throw error;
		stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: width }, height: { ideal: height } } });
	}
	const [track] = stream.getVideoTracks();
	if (!track) throw new Error('the camera gave no video');
	return track;
}

export async function openMicrophone(): Promise<MediaStreamTrack> {
	const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true } });
	const [track] = stream.getAudioTracks();
	if (!track) throw new Error('the microphone gave no audio');
	return track;
}

export async function openScreen(): Promise<MediaStreamTrack> {
	const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
	const [track] = stream.getVideoTracks();
	if (!track) throw new Error('screen sharing gave no video');
	return track;
}
