/*
 * fuzz.h - what the harnesses of tests/fuzz/ share.  Each harness is a
 * libFuzzer target: LLVMFuzzerTestOneInput gets one input, and an input
 * that breaks a promise of duo (a crash, a sanitizer report, or a check of
 * FUZZ_CHECK) is a finding.  Built with --enable-fuzz, libFuzzer drives
 * them; otherwise driver.c runs them over files, so that "make check"
 * replays the seed and regression corpora in every build.
 */
#ifndef DUO_TESTS_FUZZ_H
#define DUO_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken promise: say which, then abort so the fuzzer keeps the input. */
#define FUZZ_CHECK(condition, ...) do {                                  \
	if (!(condition)) {                                              \
		fprintf(stderr, "fuzz check failed: " __VA_ARGS__);      \
		fputc('\n', stderr);                                     \
		abort();                                                 \
	}                                                                \
} while (0)

/* Every error duo shows is one line: no newline, not empty. */
#define FUZZ_CHECK_MESSAGE(message) FUZZ_CHECK((message)[0] != '\0' &&   \
	strchr((message), '\n') == NULL, "message is not one line: '%s'",  \
	(message))

/* A file that holds the input, at a path the readers can open: a memfd
 * seen through /proc/self/fd.  Returns the path (static storage). */
const char *fuzz_input_file(const uint8_t *data, size_t size);

#endif
