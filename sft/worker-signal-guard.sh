#!/bin/sh
# mediasoup starts this instead of its worker (MEDIASOUP_WORKER_BIN, see
# mediasoupLoader.ts). The worker runs with SIGINT and SIGTERM blocked, so a
# signal sent to the whole process group or cgroup (Ctrl-C, systemd's
# KillMode=control-group) reaches only Node, which drains and then closes the
# workers through their channel. `exec` keeps the pid mediasoup knows.
exec env --block-signal=INT,TERM "$MEDIASOUP_WORKER_REAL_BIN" "$@"
