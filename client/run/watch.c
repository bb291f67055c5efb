/* watch.c - see run.h: noticing that PROGRAM's file was replaced. */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run.h"

static void log_message(const char *msg, size_t len, void *ctx)
{
	size_t line = 0;

	while (line < len && msg[line] != '\n')
		line++;
	log_debug("updaterd says: %.*s", (int)line, msg);
}

int program_watch_open(struct program_watch *w, const char *path)
{
	int r;

	*w = (struct program_watch){ .events = { .epfd = -1, .inofd = -1, .sockfd = -1 } };
	/* Only complete files: a file created in place is still being written. */
	r = watch_open(&w->events, path, WATCH_MASK_COMPLETE, -1);
	if (r < 0)
		return r;
	w->events.on_message = log_message;
	return 0;
}

void program_watch_close(struct program_watch *w)
{
	watch_close(&w->events);
}

void program_watch_note_started(struct program_watch *w)
{
	struct stat st;

	if (w->events.path && stat(w->events.path, &st) == 0) {
		w->dev = st.st_dev;
		w->ino = st.st_ino;
		w->have_started = true;
	}
}

static bool replaced(const struct program_watch *w)
{
	struct stat st;

	if (!w->have_started || stat(w->events.path, &st) < 0)
		return false;
	if (st.st_dev == w->dev && st.st_ino == w->ino)
		return false;
	return S_ISREG(st.st_mode) && access(w->events.path, X_OK) == 0;
}

unsigned program_watch_handle(struct program_watch *w)
{
	unsigned saw = watch_drain(&w->events);

	return saw && replaced(w) ? saw : 0;
}
