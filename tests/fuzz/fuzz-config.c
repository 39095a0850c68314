/* libFuzzer harness for config.c: the input is a config file. */
#define _GNU_SOURCE /* memfd_create() */
#define G_LOG_DOMAIN "mailbell-fuzz"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int fd = -1;
static char path[64];

/* The permission warning is expected for some inputs; keep the output
 * quiet and never abort on it. */
static GLogWriterOutput
discard(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	(void)level;
	(void)fields;
	(void)n_fields;
	(void)data;
	return G_LOG_WRITER_HANDLED;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	g_log_set_writer_func(discard, NULL, NULL);
	/* an in-memory file, reopened by name through /dev/fd */
	fd = memfd_create("fuzz-config.ini", MFD_CLOEXEC);
	if (fd < 0) {
		char tmpl[] = "/tmp/fuzz-config-XXXXXX";
		fd = mkstemp(tmpl);
		if (fd < 0)
			abort();
		unlink(tmpl);
	}
	fchmod(fd, 0600);
	snprintf(path, sizeof path, "/dev/fd/%d", fd);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (fd < 0)
		LLVMFuzzerInitialize(NULL, NULL);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	GError *error = NULL;
	struct mb_config *config = mb_config_load(path, &error);
	/* exactly one of the two */
	if ((config == NULL) == (error == NULL))
		abort();
	if (error && !g_str_has_prefix(error->message, path))
		abort();
	g_clear_error(&error);
	mb_config_destroy(config);
	return 0;
}
