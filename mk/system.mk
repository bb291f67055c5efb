# The system around the daemon: systemd units, the sysusers.d file, the
# default configuration and its drop-in directory, their manual page, and the
# tests that boot a real systemd (tests/system/).

# Unit files are generated from templates so they name the configured paths.
systemdsystemunit_DATA = units/updaterd.service units/updaterd.socket units/updaterd-events.socket
EXTRA_DIST += units/updaterd.service.in units/updaterd.socket.in units/updaterd-events.socket.in
CLEANFILES += $(systemdsystemunit_DATA)
do_subst = sed -e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@bindir[@]|$(bindir)|g' \
	-e 's|@scriptsdir[@]|$(scriptsdir)|g' \
	-e 's|@configfile[@]|$(configfile)|g' \
	-e 's|@dropindir[@]|$(dropindir)|g' \
	-e 's|@localstatedir[@]|$(localstatedir)|g' \
	-e 's|@runstatedir[@]|$(runstatedir)|g'
units/%: $(srcdir)/units/%.in Makefile
	$(AM_V_GEN)$(MKDIR_P) units && $(do_subst) < $< > $@

# The scripts' system user (script_user: _updater), for systemd-sysusers.
# `make install` (not into a DESTDIR) also runs systemd-sysusers on it, so the
# user exists before the daemon first starts.
sysusers_DATA = units/sysusers.d/updater.conf
EXTRA_DIST += units/sysusers.d/updater.conf
install-sysusers-hook:
	@if test -z "$(DESTDIR)" && command -v systemd-sysusers >/dev/null 2>&1; then \
		echo " systemd-sysusers $(sysusersdir)/updater.conf"; \
		systemd-sysusers $(sysusersdir)/updater.conf || \
			echo "warning: systemd-sysusers failed: create the system user _updater" >&2; \
	fi

# The default configuration: installed only when there is none (a local
# file is never replaced), and removed by uninstall only when unchanged.
# Drop-ins live beside it (see config.h).
dropindir = $(configfile:.yaml=).d
noinst_DATA = etc/updater.yaml
EXTRA_DIST += etc/updater.yaml.in
CLEANFILES += etc/updater.yaml
etc/updater.yaml: $(srcdir)/etc/updater.yaml.in Makefile
	$(AM_V_GEN)$(MKDIR_P) etc && $(do_subst) < $< > $@
install-config-hook: etc/updater.yaml
	$(MKDIR_P) $(DESTDIR)$(dropindir)
	@if test -e $(DESTDIR)$(configfile); then \
		echo " keeping $(DESTDIR)$(configfile)"; \
	else \
		echo " $(INSTALL_DATA) etc/updater.yaml $(DESTDIR)$(configfile)"; \
		$(INSTALL_DATA) etc/updater.yaml $(DESTDIR)$(configfile); \
	fi
uninstall-config-hook:
	if cmp -s etc/updater.yaml $(DESTDIR)$(configfile); then rm -f $(DESTDIR)$(configfile); fi
	-rmdir $(DESTDIR)$(dropindir) 2>/dev/null

install-data-hook: install-sysusers-hook install-config-hook
uninstall-hook: uninstall-config-hook
.PHONY: install-sysusers-hook install-config-hook uninstall-config-hook

dist_man_MANS += man/updater.yaml.5

# Drop-ins, no targets and the default file with the real daemon; what
# make install writes besides the programs.
TESTS += tests/integration/daemon-dropins.sh tests/integration/install-layout.sh
EXTRA_DIST += tests/integration/daemon-dropins.sh tests/integration/install-layout.sh

# The units under a real systemd: a Debian 12 root booted with systemd-nspawn
# (root, nspawn and debootstrap needed, else 77). systemd.sh installs the
# build with make install DESTDIR=; deb.sh builds the Debian packages and
# installs them by the README. The root is cached in /var/cache/updater-test.
TESTS += tests/system/systemd.sh tests/system/deb.sh
EXTRA_DIST += tests/system/systemd.sh tests/system/deb.sh tests/system/lib.sh \
	tests/system/root.sh debian
