/*
 * updater.h - libupdater: let a program replace itself with the new version
 * of its executable, keeping its listening sockets.
 *
 * The calling sequence of a server:
 *
 *	int main(int argc, char *argv[])
 *	{
 *		updater_init(argc, argv);                  first, before any fork or thread
 *		int fd = updater_inherited_fd("http");     the socket a previous image kept
 *		if (fd < 0)
 *			fd = open_listening_socket();          first start: make it
 *		updater_keep_fd(fd, "http");
 *		int w = updater_watch_fd();                add w to the program's poll set
 *		for (;;) {
 *			poll(...);
 *			... serve what is ready ...
 *			if (w is readable && updater_watch_handle() == 1)
 *				updater_reexec();                  returns only on failure: run on
 *		}
 *	}
 *
 * The file at the executable's path is compared with the running image by
 * device and inode, so an update that writes a new file and renames it over
 * the path (updaterd, apt, install, mv) is seen, and so is a symlink that is
 * flipped to another file. The listening socket is never closed: connections
 * that arrive while the new image starts wait in its backlog.
 *
 * Every function returns a negative errno value on failure and never prints.
 * The library keeps its state in the process (one executable per process) and
 * is not thread-safe: call it from one thread. Every descriptor it opens is
 * close-on-exec.
 */
#ifndef UPDATER_H
#define UPDATER_H

#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The daemon's control socket when UPDATER_SOCKET is not set. */
#define UPDATER_DEFAULT_SOCKET "/run/updater/control.sock"

/*
 * Call first in main(), with main's arguments. Records the executable's
 * absolute path (the one a previous image handed over in UPDATER_REEXEC_PATH,
 * else argv[0] resolved against the working directory when it contains a
 * '/', else searched in PATH, else /proc/self/exe; a path that is not the
 * running image is not trusted and /proc/self/exe is used instead),
 * the device and inode of the running image, and a copy of argv. Adopts the
 * descriptors a previous image handed over (LISTEN_FDS, LISTEN_FDNAMES,
 * LISTEN_PID equal to this process), marks them close-on-exec and removes
 * those variables (and UPDATER_REEXEC_PATH) from the environment, so
 * children do not see them.
 *
 * Returns 0; -EALREADY when called twice; -EINVAL when argc or argv is
 * unusable; -ENOMEM; or the error of reading /proc/self/exe.
 */
int updater_init(int argc, char *argv[]);

/*
 * Ask the update daemon to check now: one datagram of one byte to its socket
 * (UPDATER_SOCKET, or UPDATER_DEFAULT_SOCKET). Never blocks and does not wait
 * for the reply; any user may call it; needs no updater_init().
 *
 * Returns 0 when the datagram was sent; -ENOENT or -ECONNREFUSED when no
 * daemon listens there; -EAGAIN when its queue is full; -ENAMETOOLONG for a
 * socket path too long; another negative errno from socket(2)/sendto(2).
 */
int updater_request_check(void);

/*
 * Compare the file now at the recorded path (symlinks followed at the time of
 * the call) with the running image.
 *
 * Returns 1 when it is another file, 0 when it is the running image; -EINVAL
 * before updater_init(); the error of stat(2) otherwise (-ENOENT when the
 * path is gone).
 */
int updater_self_changed(void);

/*
 * Replace the process with the file now at the recorded path: the same PID,
 * the argv given to updater_init(), the current environ. The descriptors given
 * to updater_keep_fd() become 3, 4, ... in the order they were first kept and
 * are described by LISTEN_FDS, LISTEN_FDNAMES (their names, ':'-separated)
 * and LISTEN_PID, so sd_listen_fds() and updater_inherited_fd() find them in
 * the new image. Every other descriptor above 2 is closed by the exec, the
 * library's own included, with one exception: the inotify instance behind
 * updater_watch_fd() is handed to the new image (above the kept ones, named
 * by UPDATER_WATCH_FD), whose updater_init() and updater_watch_fd() take it
 * over, because the kernel makes the close of an inotify instance wait for
 * several milliseconds. The signal mask and ignored signals carry over, as
 * execve(2) does.
 *
 * Pre-flight: before it gives up the running image, it starts the new file
 * once as a child (same argv and environ, plus UPDATER_PREFLIGHT; stdin and
 * stdout /dev/null, stderr shared, none of the kept descriptors), whose
 * updater_init() reports success on a pipe and exits at once. Only then is
 * the file executed in this process. A file that cannot load (a missing
 * library, another architecture, truncated) or that exits before it calls
 * updater_init() leaves this image serving: the call fails. The cost is one
 * fork and exec of the new image up to its updater_init(); set
 * UPDATER_NO_PREFLIGHT to skip it.
 *
 * Returns only on failure, with the descriptors, their close-on-exec flags and
 * the environment as they were, so the program runs on (log it): -EINVAL
 * before updater_init(); -EBADF when a kept descriptor was closed; -ENOEXEC
 * when the pre-flight child ended before updater_init() (or the file is not
 * a program); -ETIMEDOUT when it did not reach updater_init() within
 * UPDATER_PREFLIGHT_TIMEOUT seconds (10); -ENOENT, -EACCES, -ETXTBSY (the
 * file is still being written) or another error of execve(2) or of
 * preparing it (-EMFILE, -ENOMEM).
 */
int updater_reexec(void);

/*
 * Mark FD to survive updater_reexec() under NAME (1 to 255 printable ASCII
 * characters, no ':'). Keeping an fd again renames it.
 *
 * Returns 0; -EBADF when FD is not open; -EINVAL for a bad name or before
 * updater_init(); -ENOMEM.
 */
int updater_keep_fd(int fd, const char *name);

/*
 * The descriptor a previous image (or socket activation) handed over under
 * NAME; the first one when several share it. Descriptors handed over without
 * a name are called "unknown", as systemd does.
 *
 * Returns the descriptor (>= 3), or -ENOENT.
 */
int updater_inherited_fd(const char *name);

/*
 * One descriptor for the program's own poll/select/epoll loop (the same one
 * on every call). It becomes readable when the executable may have been
 * replaced: a notification from the update daemon (the library subscribes on
 * its socket when a daemon listens there; without one it relies on the rest),
 * or a change in the executable's directory, in the directory of every
 * symlink on its path, and in the directory of the file the path resolves to.
 * It may become readable for other changes in those directories too; call
 * updater_watch_handle() to find out.
 *
 * Returns the descriptor; -EINVAL before updater_init(); or the error of
 * epoll_create1(2)/inotify_init1(2) (-EMFILE, -ENOMEM...). A directory that
 * cannot be watched is skipped, not an error.
 */
int updater_watch_fd(void);

/*
 * Drain the watch descriptor without blocking (and follow the watches to
 * where the path's symlinks now point), then compare like
 * updater_self_changed().
 *
 * Returns 1 when the executable was replaced, 0 when not; -EINVAL before
 * updater_watch_fd(); otherwise the error of updater_self_changed().
 */
int updater_watch_handle(void);

/*
 * Start a child process from the running image (/proc/self/exe), even when
 * the file at the path was replaced since, so a program that forks helpers
 * never mixes versions. ARGV (NULL: the argv given to updater_init()) is its
 * argument vector, the current environ its environment. The child's command
 * name (comm) is "exe"; its argv[0] is what ARGV says.
 *
 * Returns the child's PID (reap it with waitpid(2)) once it has executed;
 * -EINVAL when ARGV is NULL before updater_init(); -ENOEXEC, -ENOENT... when
 * the exec failed (the child is then reaped); the error of pipe2(2)/fork(2).
 */
pid_t updater_spawn_self(char *const argv[]);

#ifdef __cplusplus
}
#endif

#endif
