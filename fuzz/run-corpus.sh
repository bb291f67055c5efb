#!/bin/bash
# run-corpus.sh - replay every fuzz target's seed corpus (make check).
#
# Each fuzz/fuzz-NAME-regress program is a fuzz target linked with driver.c
# instead of libFuzzer; it runs every file of fuzz/corpus/NAME and aborts on
# the first input that trips an assertion. The corpus is read from the source
# tree, the programs from the build tree, so VPATH builds work.
set -u

builddir=${BUILDDIR:-.}
srcdir=${SRCDIR:-$(dirname "$0")/..}
status=0

for name in manifest config control handover events state; do
	prog=$builddir/fuzz/fuzz-$name-regress
	corpus=$srcdir/fuzz/corpus/$name
	if ! "$prog" "$corpus"; then
		echo "FAIL: $prog on $corpus" >&2
		status=1
	fi
done
exit $status
