# Probation (SPEC section 15): the health gate after a swap, and the scan for
# processes still running a replaced image; both in the daemon's library.
libupdaterd_la_SOURCES += \
	daemon/probation.c daemon/probation.h \
	daemon/stale.c daemon/stale.h
