/*
 * fuzz.h - the libFuzzer entry point every target in fuzz/ defines.
 *
 * A target is built twice: with libFuzzer (--enable-fuzzing, clang) it is a
 * coverage-guided fuzzer; linked with driver.c it replays a corpus, which is
 * how `make check` runs it with any compiler. A target aborts on anything the
 * code under test must never do; the sanitizers catch the rest.
 */
#ifndef UPDATER_FUZZ_H
#define UPDATER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
