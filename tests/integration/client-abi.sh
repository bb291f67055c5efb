#!/bin/bash
# libupdater's interface as a user gets it: the shared library exports the
# nine updater_* names of SPEC section 11 and nothing else, under the soname
# libupdater.so.0; updater.pc describes it; <updater.h> compiles on its own
# as C and C++ and is enough to build a program against the library.
. "$SRCDIR/tests/integration/lib.sh"
. "$SRCDIR/tests/integration/client-common.bash"

require_cmd nm readelf pkg-config
new_tmpdir
lib=$BUILDDIR/.libs/libupdater.so
[[ -e $lib ]] || fail "no $lib"

exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ {sub(/@.*/, "", $3); print $3}' | LC_ALL=C sort | tr '\n' ' ')
assert_eq "$exported" "updater_inherited_fd updater_init updater_keep_fd updater_reexec updater_request_check updater_self_changed updater_spawn_self updater_watch_fd updater_watch_handle " \
	"the library's exported symbols"
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
assert_eq "$soname" "libupdater.so.0" "soname"

# updater.pc (generated in the build tree).
export PKG_CONFIG_PATH=$BUILDDIR/client/lib
version=$(sed -n 's/^PACKAGE_VERSION = //p' "$BUILDDIR/Makefile")
assert_eq "$(pkg-config --modversion updater)" "$version" "pkg-config --modversion"
[[ $(pkg-config --libs updater) == *-lupdater* ]] || fail "pkg-config --libs: $(pkg-config --libs updater)"
includedir=$(pkg-config --variable=includedir updater)
[[ $includedir == /* ]] || fail "pkg-config --variable=includedir: '$includedir'"
# pkg-config leaves out -I for the compiler's own include directory.
if [[ $includedir == /usr/include ]]; then
	cflags=$(pkg-config --cflags updater)
	assert_eq "${cflags% }" "" "pkg-config --cflags with includedir /usr/include"
else
	cflags=$(pkg-config --cflags updater)
	assert_eq "${cflags% }" "-I$includedir" "pkg-config --cflags"
fi

# The header alone, strictly, as C and as C++.
printf '#include <updater.h>\nint main(void) { return updater_self_changed() == 1; }\n' >"$TEST_TMP/c.c"
cc -std=c11 -Wall -Wextra -Wpedantic -Werror -I"$SRCDIR/include" -c "$TEST_TMP/c.c" -o "$TEST_TMP/c.o" ||
	fail "<updater.h> does not compile as C11"
if command -v c++ >/dev/null; then
	printf '#include <updater.h>\nint main() { return updater_watch_fd() < 0; }\n' >"$TEST_TMP/cxx.cc"
	c++ -Wall -Wextra -Werror -I"$SRCDIR/include" -c "$TEST_TMP/cxx.cc" -o "$TEST_TMP/cxx.o" ||
		fail "<updater.h> does not compile as C++"
fi

# A program built from the header and the library runs.
build_hello abi-test "$TEST_TMP/hello"
assert_eq "$("$TEST_TMP/hello" --version)" "hello-server abi-test" "a program linked with libupdater"

pass
