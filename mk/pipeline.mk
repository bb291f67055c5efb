# The update pipeline: one check round (update.c), the default scripts and
# the release tool, and their tests.
libupdaterd_la_SOURCES += daemon/update.c daemon/update.h
