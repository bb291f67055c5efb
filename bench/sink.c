/*
 * sink.c - the benchmark's baseline receiver: the least a program can do
 * with a datagram flood. Binds PATH, receives COUNT datagrams with one
 * blocking recv() each, and prints the CPU time it used (user + system, in
 * microseconds).
 *
 *     sink PATH COUNT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rusage ru;
	char buf[512];
	long count, got = 0;
	int fd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path))
		return 2;
	count = atol(argv[2]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, argv[1]);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(argv[1], 0666) < 0) {
		perror("sink");
		return 1;
	}
	while (got < count)
		if (recv(fd, buf, sizeof(buf), 0) >= 0)
			got++;
	getrusage(RUSAGE_SELF, &ru);
	printf("%ld\n", (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
	                    ru.ru_stime.tv_usec);
	return 0;
}
