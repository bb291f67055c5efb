# Verification and persistence: manifests (minisign, versions), the atomic
# swap and the state, all in the daemon's convenience library.
libupdaterd_la_SOURCES += \
	daemon/manifest.c daemon/manifest.h \
	daemon/state.c daemon/state.h \
	daemon/swap.c daemon/swap.h
