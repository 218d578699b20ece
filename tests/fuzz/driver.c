/*
 * driver.c - runs a harness of tests/fuzz/ over files when libFuzzer is
 * not linked: each argument is an input file or a directory of them.
 * "make check" uses it to replay the corpora; a finding aborts, as it
 * would under libFuzzer, and the test fails.
 *
 *   fuzz_NAME [FILE | DIRECTORY]...
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>

#include "fuzz.h"

static int
run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL, *grown;
	size_t size = 0, capacity = 0, n;

	if (f == NULL) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (size == capacity) {
			capacity = capacity == 0 ? 65536 : 2 * capacity;
			grown = realloc(data, capacity);
			if (grown == NULL) {
				fprintf(stderr, "%s: out of memory\n", path);
				free(data);
				fclose(f);
				return -1;
			}
			data = grown;
		}
		n = fread(data + size, 1, capacity - size, f);
		size += n;
		if (n == 0)
			break;
	}
	fclose(f);
	/* A copy of exactly size bytes, so that ASan sees a read past it. */
	grown = malloc(size > 0 ? size : 1);
	if (grown == NULL) {
		free(data);
		return -1;
	}
	memcpy(grown, data, size);
	free(data);
	LLVMFuzzerTestOneInput(grown, size);
	free(grown);
	return 0;
}

static int
compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of a directory, in name order (the same every run). */
static int
run_directory(const char *path, size_t *count)
{
	DIR *dir = opendir(path);
	struct dirent *entry;
	char **names = NULL, **grown, file[4096];
	size_t n = 0, i;
	int status = 0;

	if (dir == NULL) {
		fprintf(stderr, "cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		grown = realloc(names, (n + 1) * sizeof *names);
		if (grown == NULL || (grown[n] = strdup(entry->d_name)) ==
		    NULL) {
			names = grown != NULL ? grown : names;
			status = -1;
			break;
		}
		names = grown;
		n++;
	}
	closedir(dir);
	if (n > 0)
		qsort(names, n, sizeof *names, compare_names);
	for (i = 0; i < n; i++) {
		snprintf(file, sizeof file, "%s/%s", path, names[i]);
		if (status == 0 && run_file(file) != 0)
			status = -1;
		else
			(*count)++;
		free(names[i]);
	}
	free(names);
	return status;
}

int
main(int argc, char **argv)
{
	struct stat st;
	size_t count = 0;
	int i, status = 0;

	LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "cannot read %s: %s\n", argv[i],
			    strerror(errno));
			status = 1;
		} else if (S_ISDIR(st.st_mode)) {
			if (run_directory(argv[i], &count) != 0)
				status = 1;
		} else if (run_file(argv[i]) != 0) {
			status = 1;
		} else {
			count++;
		}
	}
	printf("%s: %zu inputs, no finding\n", argv[0], count);
	return status;
}
