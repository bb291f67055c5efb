/* hash.c - see hash.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "hash.h"
#include "util.h"

/* One read: large enough for memory speed, small enough for a prompt cancel. */
#define HASH_CHUNK (1024 * 1024)

int sha256_init(struct sha256 *h)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	if (!md)
		return -ENOMEM;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return -ENOMEM;
	}
	h->md = md;
	return 0;
}

void sha256_update(struct sha256 *h, const void *buf, size_t len)
{
	if (h->md && len > 0)
		(void)EVP_DigestUpdate(h->md, buf, len);
}

void sha256_final(struct sha256 *h, uint8_t out[SHA256_BYTES])
{
	unsigned int n = 0;

	memset(out, 0, SHA256_BYTES);
	if (!h->md)
		return;
	(void)EVP_DigestFinal_ex(h->md, out, &n);
	sha256_free(h);
}

void sha256_free(struct sha256 *h)
{
	if (!h || !h->md)
		return;
	EVP_MD_CTX_free(h->md);
	h->md = NULL;
}

/* Hash LENGTH bytes of FD from offset 0 (UINT64_MAX: to the end) into H. */
static int hash_fd(int fd, uint64_t length, struct sha256 *h, uint8_t *buf,
                   const atomic_bool *cancel, _Atomic uint64_t *done)
{
	uint64_t off = 0;

	while (off < length) {
		size_t want = length - off < HASH_CHUNK ? (size_t)(length - off) : HASH_CHUNK;
		ssize_t n;

		if (cancel && atomic_load(cancel))
			return -ECANCELED;
		n = pread(fd, buf, want, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return length == UINT64_MAX ? 0 : -ENODATA;
		sha256_update(h, buf, (size_t)n);
		off += (uint64_t)n;
		if (done)
			atomic_store(done, off);
	}
	return 0;
}

/* Open PATH for hashing: a regular file, never through a symlink. */
static int open_regular(const char *path, struct stat *ret_st)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, ret_st) < 0) {
		int r = -errno;
		(void)close(fd);
		return r;
	}
	if (!S_ISREG(ret_st->st_mode)) {
		(void)close(fd);
		return -EINVAL;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return fd;
}

int hash_file_sha256(const char *path, char ret_hex[65])
{
	uint8_t digest[SHA256_BYTES];
	struct sha256 h = { 0 };
	struct stat st;
	uint8_t *buf;
	int fd, r;

	fd = open_regular(path, &st);
	if (fd < 0)
		return fd;
	buf = malloc(HASH_CHUNK);
	r = buf ? sha256_init(&h) : -ENOMEM;
	if (r == 0)
		r = hash_fd(fd, UINT64_MAX, &h, buf, NULL, NULL);
	if (r == 0) {
		sha256_final(&h, digest);
		hex_encode(digest, sizeof(digest), ret_hex);
	}
	sha256_free(&h);
	free(buf);
	(void)close(fd);
	return r;
}

struct hash_job {
	pthread_t thread;
	bool started;
	int pipe[2];        /* the thread writes one byte to [1] when done */
	char *path;         /* NULL: hash FD */
	int fd;             /* ours: opened from PATH, or a dup of the caller's */
	uint64_t length;
	uint8_t *buf;
	struct sha256 h;
	atomic_bool cancel;
	_Atomic uint64_t done_bytes;
	bool ready;
	/* Results, written by the thread before it writes to the pipe. */
	int result;
	struct stat st;
	char hex[65];
};

static bool same_file_unchanged(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void *job_main(void *arg)
{
	struct hash_job *job = arg;
	uint8_t digest[SHA256_BYTES];
	struct stat after;
	char one = 1;
	int r = 0;

	if (job->path) {
		job->fd = open_regular(job->path, &job->st);
		r = job->fd < 0 ? job->fd : 0;
	} else if (fstat(job->fd, &job->st) < 0) {
		r = -errno;
	}
	if (r == 0)
		r = hash_fd(job->fd, job->length, &job->h, job->buf, &job->cancel, &job->done_bytes);
	/* A file written to while we read it has no single sha256. */
	if (r == 0 && job->path && (fstat(job->fd, &after) < 0 || !same_file_unchanged(&job->st, &after)))
		r = -EBUSY;
	if (r == 0 && job->path) {
		sha256_final(&job->h, digest);
		hex_encode(digest, sizeof(digest), job->hex);
	}
	job->result = r;
	while (write(job->pipe[1], &one, 1) < 0 && errno == EINTR)
		;
	return NULL;
}

static int job_new(struct hash_job **ret)
{
	struct hash_job *job = calloc(1, sizeof(*job));
	int r;

	if (!job)
		return -ENOMEM;
	job->fd = job->pipe[0] = job->pipe[1] = -1;
	job->length = UINT64_MAX;
	atomic_init(&job->cancel, false);
	atomic_init(&job->done_bytes, 0);
	job->buf = malloc(HASH_CHUNK);
	if (!job->buf) {
		r = -ENOMEM;
		goto fail;
	}
	r = sha256_init(&job->h);
	if (r < 0)
		goto fail;
	if (pipe2(job->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		r = -errno;
		goto fail;
	}
	/* The loop waits on it with select(). */
	if (job->pipe[0] >= FD_SETSIZE) {
		r = -EMFILE;
		goto fail;
	}
	*ret = job;
	return 0;
fail:
	hash_job_free(job);
	return r;
}

static int job_run(struct hash_job *job)
{
	sigset_t all, old;
	int r;

	/* The daemon reads its signals from a signalfd: the thread must take none. */
	(void)sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	r = -pthread_create(&job->thread, NULL, job_main, job);
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		return r;
	job->started = true;
	return 0;
}

int hash_job_start_path(const char *path, struct hash_job **ret_job)
{
	struct hash_job *job;
	int r = job_new(&job);

	if (r < 0)
		return r;
	job->path = strdup(path);
	r = job->path ? job_run(job) : -ENOMEM;
	if (r < 0) {
		hash_job_free(job);
		return r;
	}
	*ret_job = job;
	return 0;
}

int hash_job_start_fd(int fd, uint64_t length, struct hash_job **ret_job)
{
	struct hash_job *job;
	int r = job_new(&job);

	if (r < 0)
		return r;
	job->length = length;
	job->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	r = job->fd < 0 ? -errno : job_run(job);
	if (r < 0) {
		hash_job_free(job);
		return r;
	}
	*ret_job = job;
	return 0;
}

int hash_job_fd(const struct hash_job *job)
{
	return job->pipe[0];
}

bool hash_job_ready(struct hash_job *job)
{
	char c;

	if (job->ready)
		return true;
	if (read(job->pipe[0], &c, 1) == 1) {
		(void)pthread_join(job->thread, NULL);
		job->started = false;
		job->ready = true;
	}
	return job->ready;
}

int hash_job_result(const struct hash_job *job, char ret_hex[65], struct stat *ret_st)
{
	if (!job->ready)
		return -EINPROGRESS;
	if (job->result < 0)
		return job->result;
	if (ret_hex)
		memcpy(ret_hex, job->hex, 65);
	if (ret_st)
		*ret_st = job->st;
	return 0;
}

int hash_job_take(struct hash_job *job, struct sha256 *ret)
{
	if (!job->ready)
		return -EINPROGRESS;
	if (job->result < 0)
		return job->result;
	if (!job->h.md)
		return -EINVAL;
	*ret = job->h;
	job->h.md = NULL;
	return 0;
}

uint64_t hash_job_bytes(const struct hash_job *job)
{
	return atomic_load(&job->done_bytes);
}

void hash_job_free(struct hash_job *job)
{
	if (!job)
		return;
	if (job->started) {
		atomic_store(&job->cancel, true);
		(void)pthread_join(job->thread, NULL);
	}
	if (job->fd >= 0)
		(void)close(job->fd);
	if (job->pipe[0] >= 0)
		(void)close(job->pipe[0]);
	if (job->pipe[1] >= 0)
		(void)close(job->pipe[1]);
	sha256_free(&job->h);
	free(job->buf);
	free(job->path);
	free(job);
}
