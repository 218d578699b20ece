/*
 * search.c - PCRE2 patterns as the runs filter and the text search use
 * them: UTF-8 that tolerates invalid bytes in the subject, and "smart
 * case" (a pattern without capitals matches either case).
 */
#include "search.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

pcre2_code *
pattern_compile(const char *pattern, char *message, size_t size)
{
	PCRE2_UCHAR text[256];
	PCRE2_SIZE offset;
	uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_UCP;
	pcre2_code *code;
	const char *c;
	int error;

	options |= PCRE2_CASELESS;
	for (c = pattern; *c != '\0'; c++)
		if (isupper((unsigned char)*c)) {
			options &= ~(uint32_t)PCRE2_CASELESS;
			break;
		}
	code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
	    options, &error, &offset, NULL);
	if (code == NULL) {
		pcre2_get_error_message(error, text, sizeof text);
		snprintf(message, size, "pattern /%s/: %s at character %zu",
		    pattern, (const char *)text, (size_t)offset + 1);
		return NULL;
	}
	/* Compiled to machine code where PCRE2 can: a search of a long
	 * text matches thousands of times.  Without it, the same matches,
	 * interpreted. */
	(void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
	return code;
}

int
pattern_find(const pcre2_code *code, const char *subject, size_t length,
    size_t from, size_t *start, size_t *end)
{
	pcre2_match_data *match;
	PCRE2_SIZE *ovector;
	int rc;

	match = pcre2_match_data_create_from_pattern(code, NULL);
	if (match == NULL)
		return -1;
	rc = pcre2_match(code, (PCRE2_SPTR)subject, length, from, 0, match,
	    NULL);
	if (rc < 0) {
		pcre2_match_data_free(match);
		return 0;
	}
	ovector = pcre2_get_ovector_pointer(match);
	*start = ovector[0];
	*end = ovector[1];
	pcre2_match_data_free(match);
	return 1;
}

int
pattern_each(const pcre2_code *code, const char *subject, size_t length,
    int (*found)(size_t start, size_t end, void *arg), void *arg)
{
	pcre2_match_data *match;
	PCRE2_SIZE *ovector;
	size_t from = 0;
	int rc = 0;

	match = pcre2_match_data_create_from_pattern(code, NULL);
	if (match == NULL)
		return -1;
	ovector = pcre2_get_ovector_pointer(match);
	while (from <= length && pcre2_match(code, (PCRE2_SPTR)subject,
	    length, from, 0, match, NULL) >= 0) {
		if (ovector[1] > ovector[0] &&
		    found(ovector[0], ovector[1], arg) != 0) {
			rc = -1;
			break;
		}
		/* An empty match moves on by a byte, as the search would. */
		from = ovector[1] > ovector[0] ? ovector[1] : ovector[0] + 1;
	}
	pcre2_match_data_free(match);
	return rc;
}
