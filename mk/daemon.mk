# updaterd: every module but main.c goes into a convenience library that the
# daemon and the unit tests both link, so the tests exercise the shipped code.
noinst_LTLIBRARIES += libupdaterd.la
libupdaterd_la_SOURCES = \
	daemon/log.c daemon/log.h \
	daemon/util.c daemon/util.h
libupdaterd_la_CFLAGS = $(AM_CFLAGS) $(SYSTEMD_CFLAGS) $(YAML_CFLAGS) $(SODIUM_CFLAGS)
libupdaterd_la_LIBADD = $(SYSTEMD_LIBS) $(YAML_LIBS) $(SODIUM_LIBS)

# Unit tests link the convenience library and Check.
UNIT_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS) $(SODIUM_CFLAGS)
UNIT_LDADD = libupdaterd.la $(CHECK_LIBS)
