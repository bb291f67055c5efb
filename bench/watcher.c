/*
 * watcher - how fast libupdater tells N running programs that their file was
 * replaced (bench/zero-downtime.sh).
 *
 *   watcher run N STAGED   start N copies of this program from its own path
 *                          (argv[0], absolute), each with a watch descriptor;
 *                          once all are ready, rename STAGED over that path
 *                          and print, one a line, each copy's delay in ms
 *                          from the rename to updater_watch_handle() == 1
 *   watcher child          (internal) one of the copies
 *
 * Only detection is measured here: the copies report and wait to be killed
 * instead of re-executing, so the figure is the library's, not the cost of
 * exec on the machine.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <updater.h>

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int child(int argc, char *argv[])
{
	struct pollfd p = { .events = POLLIN };
	char line[64];
	int n;

	if (updater_init(argc, argv) < 0 || (p.fd = updater_watch_fd()) < 0)
		return 1;
	(void)!write(1, "r", 1);
	for (;;) {
		if (poll(&p, 1, 30000) <= 0)
			return 1;
		if (updater_watch_handle() == 1)
			break;
	}
	n = snprintf(line, sizeof(line), "%lld\n", now_ns());
	(void)!write(1, line, (size_t)n);
	/* Stay until killed: exiting now would load the CPUs the others need. */
	for (;;)
		pause();
}

int main(int argc, char *argv[])
{
	int p[2], n;
	pid_t *pids;
	long long t0;
	FILE *f;

	if (argc == 2 && strcmp(argv[1], "child") == 0)
		return child(argc, argv);
	if (argc != 4 || strcmp(argv[1], "run") != 0 || argv[0][0] != '/') {
		fprintf(stderr, "usage: /ABSOLUTE/PATH/watcher run N STAGED\n");
		return 2;
	}
	n = atoi(argv[2]);
	pids = calloc((size_t)(n > 0 ? n : 1), sizeof(*pids));
	if (!pids || pipe(p) < 0)
		return 1;
	for (int i = 0; i < n; i++) {
		pid_t pid = pids[i] = fork();

		if (pid == 0) {
			char *av[] = { argv[0], "child", NULL };

			dup2(p[1], 1);
			close(p[0]);
			close(p[1]);
			execv(argv[0], av);
			_exit(127);
		}
	}
	close(p[1]);
	for (int ready = 0; ready < n;) {
		char c;

		if (read(p[0], &c, 1) != 1) {
			fprintf(stderr, "watcher: a copy failed to start\n");
			return 1;
		}
		ready += c == 'r';
	}
	t0 = now_ns();
	if (rename(argv[3], argv[0]) < 0) {
		perror("watcher: rename");
		return 1;
	}
	f = fdopen(p[0], "r");
	for (int i = 0; i < n; i++) {
		long long t;

		if (!f || fscanf(f, "%lld", &t) != 1)
			break;
		printf("%.3f\n", (double)(t - t0) / 1e6);
	}
	for (int i = 0; i < n; i++)
		if (pids[i] > 0)
			(void)kill(pids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	return 0;
}
