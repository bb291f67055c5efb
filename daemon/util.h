/*
 * util.h - small helpers shared by the daemon's modules.
 */
#ifndef UPDATER_UTIL_H
#define UPDATER_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_BOOTTIME in milliseconds: time spent suspended counts. */
int64_t now_boottime_ms(void);

/* LEN bytes -> 2*LEN lowercase hex digits and a NUL. */
void hex_encode(const uint8_t *in, size_t len, char *out);

#endif
