/* Placeholder translation unit for the empty static libraries the local
 * subprojects export (meson warns about, and will stop accepting, libraries
 * without sources). build-mediasoup-worker.sh copies it into each one. */
typedef int sft_mediasoup_worker_stub;
