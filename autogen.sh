#!/bin/sh
# Regenerate configure and Makefile.in. Serialized with a lock, because
# several build directories may share this source tree.
set -e
cd "$(dirname "$0")"
exec flock /tmp/updater-autogen.lock autoreconf -fi
