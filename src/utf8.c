/* utf8.c - the length of a valid UTF-8 sequence (utf8.h). */
#include "utf8.h"

#include <stdint.h>

/* Measure the sequence at s: its length if it is valid UTF-8, else 0. */
size_t
utf8_sequence_length(const unsigned char *s, size_t n)
{
	size_t length, i;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		length = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		length = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		length = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (length > n)
		return 0;
	for (i = 1; i < length; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((length == 3 && cp < 0x800) || (length == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return length;
}
