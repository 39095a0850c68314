/* LD_PRELOAD for test_power.py: a suspend without suspending. CLOCK_BOOTTIME
 * runs ahead of the real one by the whole seconds written in the file named
 * by $MB_TEST_BOOTTIME_AHEAD (read at every call; missing or empty: 0), as
 * it would after a suspend of that long; CLOCK_MONOTONIC is left alone.
 * Only clock_gettime() is shifted: timerfds still count real time. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);

__attribute__((constructor)) static void init(void)
{
	real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
}

static long ahead(void)
{
	const char *path = getenv("MB_TEST_BOOTTIME_AHEAD");
	char buf[32];
	long n = 0;
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd < 0)
		return 0;
	ssize_t len = read(fd, buf, sizeof buf - 1);
	close(fd);
	for (ssize_t i = 0; i < len && buf[i] >= '0' && buf[i] <= '9'; i++)
		n = n * 10 + (buf[i] - '0');
	return n;
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	if (!real_clock_gettime)
		init();
	int r = real_clock_gettime(id, ts);
	if (r == 0 && id == CLOCK_BOOTTIME)
		ts->tv_sec += ahead();
	return r;
}
