/*
 * release.h - directory targets (SPEC section 18): one directory per release,
 * and PATH a symlink switched to the new one in one rename.
 *
 * On disk, for a target with PATH and RELEASES:
 *
 *     PATH                               symlink -> RELEASES/VERSION
 *     RELEASES/VERSION/                  a whole release; never written once it has this name
 *     RELEASES/.VERSION.updater-XXXXXX   a download (file), or a release being unpacked
 *                                        or deleted (directory); start-up deletes them
 *     dir(PATH)/.BASE.updater-XXXXXX     a new symlink about to replace PATH
 *
 * The calling sequence of an update, in the spirit of swap.h:
 *
 *     release_prepare(releases)                 RELEASES made if missing (0755)
 *     release_archive_path(releases, version)   "RELEASES/VERSION": give it to
 *                                               swap_stage_open(), which stages
 *                                               the download as
 *                                               RELEASES/.VERSION.updater-XXXXXX
 *     ... download, swap_stage_finish() checks size and sha256 ...
 *     release_unpack_start(&spec, &u)           a child process unpacks the archive
 *                                               into RELEASES/.VERSION.updater-XXXXXX
 *     release_unpack_fd(u) in select(), then
 *     release_unpack_finish(u, &report, err)    every entry checked, every file and
 *                                               directory fsynced, the tree 0755
 *     ... smoke test inside release_unpack_dir(u) ...
 *     release_commit(u, exe, &res)              rename to RELEASES/VERSION; a new
 *                                               symlink renamed over PATH; fsync
 *     release_prune(...)                        releases beyond KEEP deleted
 *     release_unpack_free(u)                    kills a running child, deletes what
 *                                               was not committed (in a background
 *                                               process); always safe
 *
 * The unpacking refuses the whole archive, and leaves nothing behind, on the
 * first entry that is not a regular file, a directory, a symlink or a hard
 * link; whose name is absolute, has a ".." component, goes through anything
 * but a directory of this release, or appears twice; a symlink whose target,
 * resolved lexically from its own directory, leaves the release (and, once
 * all is written, any symlink the kernel cannot resolve beneath the release:
 * chains of links); a hard link to anything but a regular file extracted
 * before it. Set-uid, set-gid and sticky bits are dropped, the owner is the
 * daemon's user, and at most MAX_UNPACKED bytes and RELEASE_ENTRIES_MAX
 * entries are written. libarchive's own secure-extraction checks run as well.
 *
 * At every instant PATH names one whole release: the old one or the new one.
 * Functions never log; they return negative errno values and, where an ERR
 * buffer is taken, a sentence saying what was wrong.
 */
#ifndef UPDATER_RELEASE_H
#define UPDATER_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "swap.h"

#define RELEASE_ENTRIES_MAX 100000
#define RELEASE_DEPTH_MAX 128 /* path components of one entry */

/* True when VERSION can be a directory name in RELEASES: [A-Za-z0-9.+~:_-], not starting with '.'. */
bool release_valid_version(const char *version);

/* "RELEASES/VERSION" (malloc'd), or NULL on ENOMEM. */
char *release_archive_path(const char *releases, const char *version);

/*
 * Create RELEASES (0755) when missing. 0, -ENOTDIR when it is not a
 * directory, -EPERM when it is not the daemon user's own or others may write
 * it, or another negative errno.
 */
int release_prepare(const char *releases);

/*
 * The version PATH names now: PATH must be a symlink to RELEASES/VERSION.
 * Stores the malloc'd VERSION in *RET. -ENOENT when PATH does not exist,
 * -EINVAL when it is something else (not a symlink, or one pointing elsewhere).
 */
int release_current(const char *path, const char *releases, char **ret);

struct release_spec {
	const char *path;     /* the symlink */
	const char *releases; /* the directory of releases */
	const char *version;  /* release_valid_version() */
	const char *archive;  /* the verified download */
	uint64_t max_unpacked;
	uint64_t max_entries; /* 0: RELEASE_ENTRIES_MAX */
};

struct release_report {
	uint64_t entries;
	uint64_t bytes;
	uint64_t dropped_bits; /* entries whose set-uid, set-gid or sticky bit was dropped */
};

struct release_unpack;

/* Returns 0 with a running unpack in *RET, or negative errno. */
int release_unpack_start(const struct release_spec *spec, struct release_unpack **ret);
/* Readable once the unpacking is over; -1 after release_unpack_finish(). */
int release_unpack_fd(const struct release_unpack *u);
/*
 * Call once release_unpack_fd() is readable. Returns 0 when the release is
 * whole on disk (at release_unpack_dir()), with *REPORT filled (may be NULL);
 * -EBADMSG with ERR when the archive was refused, or another negative errno.
 */
int release_unpack_finish(struct release_unpack *u, struct release_report *report, char *err,
                          size_t err_size);
/* Where the unpacked release is until release_commit(). */
const char *release_unpack_dir(const struct release_unpack *u);
/*
 * Rename the unpacked release to RELEASES/VERSION (replacing one of that name
 * that PATH does not name: a crash's leftover), then switch PATH to it.
 * EXE (relative to a release, may be NULL) is the program whose old file
 * fills RES (the file a `signal:` goes to); RES->had_old is false without it.
 * Returns 0 once PATH names the new release; a negative errno otherwise (PATH
 * unchanged, except when -EIO: switched, but the directory not synced).
 */
int release_commit(struct release_unpack *u, const char *exe, struct swap_result *res);
void release_unpack_free(struct release_unpack *u);

/*
 * Before a download of VERSION: a directory RELEASES/VERSION that PATH does
 * not name (what a crash between the rename and the switch leaves, or a
 * release rolled back from) is renamed away and deleted. Returns 1 when one
 * was deleted, 0 when there was none, -EBUSY when PATH names it.
 */
int release_discard(const char *path, const char *releases, const char *version);

/*
 * Switch PATH to RELEASES/VERSION, which must exist: a rollback. EXE and RES
 * as for release_commit(). -ENOENT when there is no such release.
 */
int release_switch(const char *path, const char *releases, const char *version, const char *exe,
                   struct swap_result *res);

/*
 * Delete releases beyond KEEP, oldest version first, never CURRENT or
 * PREVIOUS (either may be NULL). Each is renamed to a temporary name at once
 * and deleted by a background process (what a crash leaves there,
 * release_recover() deletes). Returns how many were renamed away, or
 * negative errno.
 */
int release_prune(const char *releases, unsigned keep, const char *current, const char *previous);

/*
 * At start-up: delete leftover temporary entries (downloads, half-unpacked
 * or half-deleted releases in RELEASES, new symlinks beside PATH). Returns
 * how many, or negative errno (-ENOENT when RELEASES does not exist).
 */
int release_recover(const char *path, const char *releases);

/*
 * The entry checks, on their own (the Check suite uses them). A set of the
 * names an archive has had so far; release_check_entry() refuses or admits
 * the next entry (TYPE: S_IFREG, S_IFDIR, S_IFLNK, ...; LINK: a symlink's
 * target, or HARDLINK the name it links to) and records it. Returns 1 with
 * the normalized name in NORM when the entry is to be written, 0 when it is
 * the release's root (".") and is skipped, or -EBADMSG with ERR.
 */
struct release_names;
struct release_names *release_names_new(void);
void release_names_free(struct release_names *names);
int release_check_entry(struct release_names *names, const char *name, mode_t type,
                        const char *symlink, const char *hardlink, char *norm, size_t norm_size,
                        char *err, size_t err_size);

/* Delete DIRFD/NAME and everything under it, never following a symlink. */
int release_remove_tree(int dirfd, const char *name);

#endif
