# make install / uninstall / deb — included by the root Makefile.
#
#   make install   [PREFIX=/usr/local] [DESTDIR=]   programs, units, man pages, completion
#   make uninstall [PREFIX=/usr/local] [DESTDIR=]   removes exactly what install put there
#   make deb                                       $(BUILD)/icemesh_V_A.deb, icemesh-coord_V_A.deb
#
# Where things go (GNU directory variables, each can be overridden):
#   bindir  ($(PREFIX)/bin)   icemesh: run by people (root or the icemesh group)
#   sbindir ($(PREFIX)/sbin)  icemeshd, icemesh-coord: system daemons that systemd
#                             starts and an administrator runs (FHS 4.10: sbin)
#   mandir  ($(PREFIX)/share/man)     section 8 pages
#   bashcompdir ($(PREFIX)/share/bash-completion/completions)
#   unitdir ($(PREFIX)/lib/systemd/system), sysusersdir, tmpfilesdir: systemd reads
#     /usr/local/lib/{systemd/system,sysusers.d,tmpfiles.d} as well as /usr/lib, so a
#     /usr/local install works as installed; the .deb puts units in /lib/systemd/system
#     as every bookworm package does.
# The units name /usr/sbin/...; installing them elsewhere rewrites that to $(sbindir).

PREFIX      ?= /usr/local
DESTDIR     ?=
prefix      ?= $(PREFIX)
exec_prefix ?= $(prefix)
bindir      ?= $(exec_prefix)/bin
sbindir     ?= $(exec_prefix)/sbin
libdir_sd   ?= $(exec_prefix)/lib
datarootdir ?= $(prefix)/share
mandir      ?= $(datarootdir)/man
docdir_root ?= $(datarootdir)/doc
bashcompdir ?= $(datarootdir)/bash-completion/completions
unitdir     ?= $(libdir_sd)/systemd/system
sysusersdir ?= $(libdir_sd)/sysusers.d
tmpfilesdir ?= $(libdir_sd)/tmpfiles.d
# 1: gzip the man pages (the .deb does; Debian policy 12.1)
MANGZ       ?= 0
# 1: strip the programs (the .deb does; the debug info stays in $(BUILD))
STRIP_BINS  ?= 0

PKG_VERSION ?= $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' packaging/debian/changelog)
DEB_ARCH    ?= $(shell dpkg --print-architecture 2>/dev/null)
DEB_NODE    := $(BUILD)/icemesh_$(PKG_VERSION)_$(DEB_ARCH).deb
DEB_COORD   := $(BUILD)/icemesh-coord_$(PKG_VERSION)_$(DEB_ARCH).deb

INSTALL      ?= install
INSTALL_PROG := $(INSTALL) -m 0755
INSTALL_DATA := $(INSTALL) -m 0644

# The node package: icemeshd only when daemon/main.c exists in this tree.
NODE_SBIN  := $(filter $(BUILD)/icemeshd,$(PROGS))
NODE_BIN   := $(filter $(BUILD)/icemesh,$(PROGS))
COORD_SBIN := $(filter $(BUILD)/icemesh-coord,$(PROGS))

.PHONY: install install-node install-coord uninstall uninstall-node uninstall-coord deb

install: install-node install-coord

# install_prog SRC DIR; install_man PAGE; install_unit FILE
define install_prog
	$(INSTALL) -d $(DESTDIR)$(2)
	$(INSTALL_PROG) $(1) $(DESTDIR)$(2)/
	$(if $(filter 1,$(STRIP_BINS)),strip --remove-section=.comment --remove-section=.note --strip-unneeded $(DESTDIR)$(2)/$(notdir $(1)))

endef
define install_man
	$(INSTALL) -d $(DESTDIR)$(mandir)/man8
	$(INSTALL_DATA) packaging/man/$(1) $(DESTDIR)$(mandir)/man8/$(1)
	$(if $(filter 1,$(MANGZ)),gzip -9nf $(DESTDIR)$(mandir)/man8/$(1))

endef
define install_unit
	$(INSTALL) -d $(DESTDIR)$(unitdir)
	sed 's|/usr/sbin/|$(sbindir)/|g' packaging/systemd/$(1) >$(DESTDIR)$(unitdir)/$(1).tmp
	chmod 0644 $(DESTDIR)$(unitdir)/$(1).tmp
	mv -f $(DESTDIR)$(unitdir)/$(1).tmp $(DESTDIR)$(unitdir)/$(1)

endef

install-node: $(NODE_SBIN) $(NODE_BIN)
	$(foreach p,$(NODE_BIN),$(call install_prog,$(p),$(bindir)))
	$(foreach p,$(NODE_SBIN),$(call install_prog,$(p),$(sbindir)))
	$(call install_man,icemesh.8)
	$(call install_man,icemeshd.8)
	$(INSTALL) -d $(DESTDIR)$(bashcompdir) $(DESTDIR)$(sysusersdir)
	$(INSTALL_DATA) packaging/completion/icemesh $(DESTDIR)$(bashcompdir)/icemesh
	$(INSTALL_DATA) packaging/sysusers/icemesh.conf $(DESTDIR)$(sysusersdir)/icemesh.conf
	$(call install_unit,icemeshd.service)

install-coord: $(COORD_SBIN)
	$(foreach p,$(COORD_SBIN),$(call install_prog,$(p),$(sbindir)))
	$(call install_man,icemesh-coord.8)
	$(INSTALL) -d $(DESTDIR)$(bashcompdir) $(DESTDIR)$(sysusersdir) $(DESTDIR)$(tmpfilesdir)
	$(INSTALL_DATA) packaging/completion/icemesh-coord $(DESTDIR)$(bashcompdir)/icemesh-coord
	$(INSTALL_DATA) packaging/sysusers/icemesh-coord.conf $(DESTDIR)$(sysusersdir)/icemesh-coord.conf
	$(INSTALL_DATA) packaging/tmpfiles/icemesh-coord.conf $(DESTDIR)$(tmpfilesdir)/icemesh-coord.conf
	$(call install_unit,icemesh-coord.service)

# Removes the files install puts there, and only those: directories such as
# /usr/local/sbin may hold others' files or be expected to exist, and state,
# users and groups are the administrator's (docs/packaging.md).
uninstall: uninstall-node uninstall-coord

uninstall-node:
	rm -f $(DESTDIR)$(bindir)/icemesh $(DESTDIR)$(sbindir)/icemeshd \
		$(DESTDIR)$(mandir)/man8/icemesh.8 $(DESTDIR)$(mandir)/man8/icemesh.8.gz \
		$(DESTDIR)$(mandir)/man8/icemeshd.8 $(DESTDIR)$(mandir)/man8/icemeshd.8.gz \
		$(DESTDIR)$(bashcompdir)/icemesh $(DESTDIR)$(sysusersdir)/icemesh.conf \
		$(DESTDIR)$(unitdir)/icemeshd.service

uninstall-coord:
	rm -f $(DESTDIR)$(sbindir)/icemesh-coord \
		$(DESTDIR)$(mandir)/man8/icemesh-coord.8 $(DESTDIR)$(mandir)/man8/icemesh-coord.8.gz \
		$(DESTDIR)$(bashcompdir)/icemesh-coord $(DESTDIR)$(sysusersdir)/icemesh-coord.conf \
		$(DESTDIR)$(tmpfilesdir)/icemesh-coord.conf $(DESTDIR)$(unitdir)/icemesh-coord.service

# ---------------------------------------------------------------- .deb
# Two binary packages: a node needs no HTTPS server, SQLite or coturn, and the
# coordinator host needs no TUN daemon. Each is staged by install-* into
# $(BUILD)/deb/<pkg>, its Depends computed by dpkg-shlibdeps from the programs'
# NEEDED entries, and built with dpkg-deb (root:root owners, no fakeroot).
DEB_STAGE := $(BUILD)/deb
DEB_DIRS  := PREFIX=/usr unitdir=/lib/systemd/system sysusersdir=/usr/lib/sysusers.d \
	tmpfilesdir=/usr/lib/tmpfiles.d MANGZ=1 STRIP_BINS=1

deb: $(DEB_NODE) $(DEB_COORD)

.PHONY: $(DEB_NODE) $(DEB_COORD)
$(DEB_NODE): $(NODE_SBIN) $(NODE_BIN)
	$(Q)packaging/debian/build-deb icemesh '$(BUILD)' '$(PKG_VERSION)' '$(DEB_ARCH)' \
		'$(MAKE) --no-print-directory BUILD=$(BUILD) $(DEB_DIRS) install-node'

$(DEB_COORD): $(COORD_SBIN)
	$(Q)packaging/debian/build-deb icemesh-coord '$(BUILD)' '$(PKG_VERSION)' '$(DEB_ARCH)' \
		'$(MAKE) --no-print-directory BUILD=$(BUILD) $(DEB_DIRS) install-coord'
