/*
 * test_piece.c - the one escaped form the browser shows a token's piece
 * in (piece_escape, src/tui/draw.c), as the top 5 predictions and the
 * Tokens view show it: a quote and a backslash escaped, so that the piece
 * ." between quotes is ".\"" and not ".""; the text view's stand-ins for
 * a newline, a tab and a control character, in Unicode and in ASCII;
 * \xHH for a byte that is no UTF-8 by itself; cut short, never past the
 * buffer, and never in the middle of an escape.
 */
#define TEST_NAME "test_piece"
#include "testlib.h"

#include <locale.h>
#include <string.h>

#include "tui/draw.h"

static void
expect(const struct glyph_set *g, const char *bytes, size_t n,
    size_t size, const char *want)
{
	char out[64], what[160];

	memset(out, 'X', sizeof out);
	piece_escape(g, bytes, n, out, size);
	snprintf(what, sizeof what, "%zu bytes in %zu: '%s' (want '%s')",
	    n, size, out, want);
	check_true(what, strcmp(out, want) == 0 && out[size] == 'X');
}

int
main(void)
{
	struct glyph_set unicode, ascii;

	/* wcwidth() knows é in a UTF-8 locale only. */
	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL) {
		printf("SKIP: no C.UTF-8 locale\n");
		return 77;
	}
	glyphs_init(&unicode, 0);
	glyphs_init(&ascii, 1);
	expect(&unicode, ".\"", 2, 32, ".\\\"");
	expect(&unicode, "a\\b", 3, 32, "a\\\\b");
	expect(&unicode, " the", 4, 32, " the");
	expect(&unicode, "\n\t\x01", 3, 32, "\xe2\x86\xb5\xe2\x86\x92"
	    "\xe2\x90\x81");
	/* In ASCII a newline is \n, never a glyph that text has too. */
	expect(&ascii, "\n\t\x01", 3, 32, "\\n\\t^");
	expect(&ascii, "$\n", 2, 32, "$\\n");
	expect(&unicode, "\xe2\x82", 2, 32, "\\xe2\\x82");
	expect(&unicode, "caf\xc3\xa9", 5, 32, "caf\xc3\xa9");
	expect(&unicode, "", 0, 32, "");
	/* Cut short: whole characters and escapes only. */
	expect(&unicode, "abcdef", 6, 4, "abc");
	expect(&unicode, "a\"", 2, 3, "a");
	expect(&unicode, "\xff", 1, 4, "");
	return failures == 0 ? 0 : 1;
}
