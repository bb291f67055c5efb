/*
 * unit-files.h - a scratch directory, files and programs for the Check suites
 * that work on real files (check_swap, check_state).
 *
 * Every helper asserts through Check, so a test that cannot set up its files
 * fails where it tried, with the path and the reason. A suite calls
 * scratch_make() in its checked fixture's setup and scratch_remove() in its
 * teardown; everything made in between lives in the scratch directory.
 */
#ifndef UPDATER_UNIT_FILES_H
#define UPDATER_UNIT_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* A fresh /tmp/NAME.XXXXXX, its path in BUF; the umask becomes 022. */
void scratch_make(char *buf, size_t size, const char *name);
/* Unmount what scratch_mount_tmpfs() mounted, then delete the scratch tree. */
void scratch_remove(void);
/*
 * Make the directory DIR and mount a 64 KiB tmpfs on it, to fill up. False,
 * with a note on stderr, when that cannot be done (not root, no mount).
 */
bool scratch_mount_tmpfs(const char *dir);

/* Run ARGV (an absolute program, stdout to /dev/null); its exit status, -1 when it did not exit. */
int run_program(char *const argv[]);

/* Create or replace PATH with LEN bytes of DATA and mode MODE. */
void write_file(const char *path, const void *data, size_t len, mode_t mode);
/* The whole regular file at PATH (never through a symlink), malloc'd and NUL-terminated; its length in *RET_LEN when not NULL. */
char *read_file(const char *path, size_t *ret_len);
struct stat lstat_of(const char *path);
/* How many entries DIR has besides . and .. */
unsigned dir_entries(const char *dir);

#endif
