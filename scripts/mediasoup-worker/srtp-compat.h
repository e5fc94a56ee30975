/*
 * Compat <srtp.h> for building mediasoup-worker against Debian's libsrtp2.
 *
 * mediasoup 3.15 bundles versatica's libsrtp "3.0-alpha" fork, whose API
 * differs from libsrtp 2.x in two ways the worker relies on:
 *   - srtp_protect(), srtp_unprotect(), srtp_protect_rtcp() and
 *     srtp_unprotect_rtcp() take the packet length as size_t* (2.x: int*);
 *   - srtp_stream_remove() is called srtp_remove_stream() in 2.x.
 *
 * build-mediasoup-worker.sh installs this file as
 * subprojects/libsrtp2/include/srtp.h, so the worker's `#include <srtp.h>`
 * lands here. It includes the real header and adds C++ overloads.
 */
#ifndef MS_SRTP_COMPAT_H
#define MS_SRTP_COMPAT_H

#include <srtp2/srtp.h>

#ifdef __cplusplus
#include <climits>
#include <cstddef>

namespace ms_srtp_compat
{
	using srtp_fn = srtp_err_status_t (*)(srtp_t, void*, int*);

	inline srtp_err_status_t call(srtp_fn fn, srtp_t ctx, void* data, size_t* len)
	{
		if (*len > static_cast<size_t>(INT_MAX))
		{
			return srtp_err_status_bad_param;
		}

		int intLen = static_cast<int>(*len);
		const srtp_err_status_t err = fn(ctx, data, &intLen);

		if (err == srtp_err_status_ok)
		{
			*len = static_cast<size_t>(intLen);
		}

		return err;
	}
} // namespace ms_srtp_compat

inline srtp_err_status_t srtp_protect(srtp_t ctx, void* rtp, size_t* len)
{
	return ms_srtp_compat::call(
	  static_cast<ms_srtp_compat::srtp_fn>(&::srtp_protect), ctx, rtp, len);
}

inline srtp_err_status_t srtp_unprotect(srtp_t ctx, void* srtp, size_t* len)
{
	return ms_srtp_compat::call(
	  static_cast<ms_srtp_compat::srtp_fn>(&::srtp_unprotect), ctx, srtp, len);
}

inline srtp_err_status_t srtp_protect_rtcp(srtp_t ctx, void* rtcp, size_t* len)
{
	return ms_srtp_compat::call(
	  static_cast<ms_srtp_compat::srtp_fn>(&::srtp_protect_rtcp), ctx, rtcp, len);
}

inline srtp_err_status_t srtp_unprotect_rtcp(srtp_t ctx, void* srtcp, size_t* len)
{
	return ms_srtp_compat::call(
	  static_cast<ms_srtp_compat::srtp_fn>(&::srtp_unprotect_rtcp), ctx, srtcp, len);
}

inline srtp_err_status_t srtp_stream_remove(srtp_t session, uint32_t ssrc)
{
	return srtp_remove_stream(session, ssrc);
}
#endif /* __cplusplus */

#endif /* MS_SRTP_COMPAT_H */
